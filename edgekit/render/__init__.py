"""Formats of results (terminal tables, Markdown, HTML, plots): they format numbers, they compute
none. What is computed from a results file (summary, recommendation, gates) is in results/."""
