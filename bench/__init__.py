"""Benchmarks that need a real browser (issue 6). `python -m bench.browser --help`."""
