"""The results.json contract (schema.py) and what is computed from it alone: the summary and
recommendation (summary.py) and the gates between two results files (compare.py)."""
