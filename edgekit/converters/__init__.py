"""Converters: TFLite (tflite.py, selective.py) and ONNX (onnx.py) variants of a Keras model, and
what a conversion reads (inputs.py). workflows/convert.py runs them in order."""
