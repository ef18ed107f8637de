"""Converters: TFLite (tflite.py, selective.py) and ONNX (onnx.py) variants of a Keras model, the
shapes a TFLite variant is pinned at when free dimensions fail (pinning.py), and what a
conversion reads (inputs.py). workflows/convert.py runs them in order."""
