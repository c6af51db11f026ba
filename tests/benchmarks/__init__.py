"""Benchmarks of keyturn against the physical limit (one warm round trip) and a shell loop.

Not part of the default test run (pyproject: --ignore=tests/benchmarks). Entry:
`python -m tests.benchmarks [--json] [--quick] [--only NAMES]`.
"""
