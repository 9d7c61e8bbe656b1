"""Apache TVM (Relax): compile ONNX models for LLVM targets (host or cross-compiled for ARM
boards), export the library, run and time it locally or on a board over RPC.

`build.build_onnx(onnx, target, out)` is the one-call path: ONNX file or model in, target in,
shared library out. MetaSchedule tuning (`hwnas.tvm.tune`) plugs in through `compile_module`'s
`database`.
"""
