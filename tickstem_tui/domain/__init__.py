"""Pure domain model and rules: no I/O, no frameworks."""
