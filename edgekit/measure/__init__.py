"""Measuring one file on one target: targets (what runs it), timing (the one harness loop), memory,
subjects (what is measured and on which data), fidelity against the float model, and the task
evaluation (which labelled data and metric a model is judged on). workflows/bench.py runs all
of it per file and target."""
