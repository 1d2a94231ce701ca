"""EIDR identity: ID validation, registry reference data and matching."""
