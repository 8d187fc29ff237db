"""Pure builders: spec in, Kubernetes manifest (a dict) out. No I/O, unit-tested as plain functions."""
