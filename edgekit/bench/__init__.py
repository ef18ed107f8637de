"""Measuring artifacts: targets (what runs them), timing (the one harness), memory, subjects
(what is measured and on which data), engine (all of it, per artifact and target), fidelity
against the float model, and task accuracy."""
