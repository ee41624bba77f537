"""Benchmarks that need a real browser. `python -m bench.browser --help`."""
