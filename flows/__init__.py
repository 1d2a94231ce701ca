"""Prefect flows: one per provider, the dbt transform, and the operational flows."""
