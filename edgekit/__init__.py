"""edgekit: Keras model -> validated, benchmarked TFLite and ONNX artifacts.

Importing this package is cheap: TensorFlow, onnxruntime and LiteRT are imported only by the
modules that use them, when they are first needed.
"""

__version__ = "0.1.0"
