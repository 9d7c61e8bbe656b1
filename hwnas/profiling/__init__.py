"""Latency measurement: backends (ONNX Runtime, TVM, TVM RPC, PyTorch), the measurement
protocol, resumable profiling runs into latency tables, and live latency for searches."""
