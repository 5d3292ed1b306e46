"""Benchmarks: ``python -m qdt.bench scene [--scale N] [--json]``. They print figures; tests never time."""
