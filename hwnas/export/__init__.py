"""Export for deployment: ONNX models (and, built on them, verification, quantization, TVM)."""
