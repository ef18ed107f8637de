"""Model optimization with the TensorFlow Model Optimization toolkit: pruning, weight clustering
and quantization-aware training, each fine-tuned on the model's training data.

The toolkit is imported only inside this package (docs/DESIGN.md, pitfall 1), and only when a step runs.
"""
