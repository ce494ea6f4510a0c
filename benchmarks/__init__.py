"""Benchmarks of flolive-sdk against other ways of reading the API (``python -m benchmarks``)."""
