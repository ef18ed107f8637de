"""The sequences a command runs, one module each: convert, bench, optimize, tune, debug-quant,
and sweep (its suite, its jobs, and the Ray executor). The CLI and the Python API both call these;
nothing here parses arguments or prints."""
