"""Targets outside the host CPU: microcontroller boards (mcu.py), TFLite delegates (delegates.py),
NPU compilation (npu_compile.py) and C arrays for firmware (c_array.py)."""
