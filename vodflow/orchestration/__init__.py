"""Orchestration beyond a single run: backfill plans, start-or-reuse of deployment runs, the late-run policy."""
