"""Shared test support: helpers the test modules use (no test module imports another)."""
