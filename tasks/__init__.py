"""Prefect tasks: thin wrappers that give the library code retries, timeouts and a place in the UI."""
