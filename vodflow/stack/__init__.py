"""The local stack: PostgreSQL, a Prefect server, a process worker and the provider sandbox, under one data folder.

Entry points: :func:`vodflow.stack.lifecycle.up`, :func:`vodflow.stack.lifecycle.down` and
:func:`vodflow.stack.status.stack_status`; errors a person should read derive from
:class:`vodflow.stack.errors.StackError`.
"""
