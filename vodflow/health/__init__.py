"""The Data Health Check report: one self-contained HTML page on the pipeline's state, reproducible for a past day.

Each section has its own module (queries and figures), ``recommend`` derives advice from the figures, ``plots``
draws them (matplotlib, Agg, embedded as PNG) and ``render`` writes the page. ``report`` assembles them; the
``health-check`` flow (``flows/health.py``) and ``vodflow health`` call :func:`vodflow.health.report.build_report`.
See docs/health-report.md.
"""
