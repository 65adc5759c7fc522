"""Benchmarks run by ``make`` targets; not part of any deployed package."""
