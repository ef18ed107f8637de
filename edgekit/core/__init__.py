"""What every layer uses and that knows nothing of models: errors, limits, interrupts, progress,
lazy imports of the heavy backends, archives, artifacts and the manifest, safe output files,
config, units, safe-file checks, schemas, and starting a Python child. Imports nothing above it."""
