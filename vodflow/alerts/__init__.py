"""Alerting as code: the Slack and email channels, the automations vodflow owns, and failed deliveries.

* ``automations.yaml``: what is alerted on, and the message templates;
* :mod:`vodflow.alerts.blocks`: the notification blocks the Prefect server sends through (an entry point);
* :mod:`vodflow.alerts.apply`: ``vodflow automations apply`` (and ``vodflow up``) make the server match the repo;
* :mod:`vodflow.alerts.failures`: deliveries that failed, for ``vodflow status``.

See docs/alerts.md.
"""
