"""Developer tooling of the data platform: the `dp` CLI, the local stack, the SAM template reader,
sample data and the demo. Installed into the venv only; the runtime package `dataplatform` never imports it."""
