"""Test helpers shared by tests, benchmarks and the demo: ``kubetune.testing.tiny`` builds tiny models."""
