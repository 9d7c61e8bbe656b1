"""Devices: descriptions, registry, and (with the profiling backends) live measurement."""

from hwnas.devices.registry import Device, DeviceRegistry, LatencyTableRef, load_device_file, parse_device

__all__ = ["Device", "DeviceRegistry", "LatencyTableRef", "load_device_file", "parse_device"]
