"""`python -m bench`: the console measured against its physical limit (see docs/PERFORMANCE.md)."""
