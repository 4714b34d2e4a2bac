"""Health, metrics and structured logs of the console (ADR 0011)."""
