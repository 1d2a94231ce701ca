"""Anomaly detection on the business metrics of ``marts.metrics_daily``: checks as code, scoring, alert state.

* :mod:`vodflow.anomaly.checks`: the check file (YAML), parsed with line numbers so a typo is named where it is;
* :mod:`vodflow.anomaly.methods`: the scoring methods, pure functions of a value and its history;
* :mod:`vodflow.anomaly.evaluate`: every check for every provider and day, from metric rows;
* :mod:`vodflow.anomaly.store`: reading the mart, writing evaluations, the alert state and its suppression;
* :mod:`vodflow.anomaly.events`: the Prefect events ``vodflow.metric.anomaly`` and ``vodflow.metric.recovered``.

The flow that ties them together is ``flows/anomaly.py`` (``anomaly-check``); see docs/anomaly-detection.md.
"""
