"""Measurements of artifacts: fidelity against the float model (latency and accuracy to come)."""
