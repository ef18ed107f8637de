"""Conversion: TFLite (tflite.py) and ONNX (onnx.py) variants, orchestrated by pipeline.py."""
