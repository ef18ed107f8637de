"""Data: calibration sets (calibration.py), labelled sets (datasets.py) and the task metrics
computed on them (metrics.py)."""
