"""hwnas: hardware-aware neural architecture search, profiling and deployment."""

__version__ = "0.1.0"
