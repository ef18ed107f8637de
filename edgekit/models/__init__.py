"""Models as files: loading a Keras model (loading.py), checking it runs no code (trust.py), and
reading a converted file without running it (inspection.py, graph_costs.py)."""
