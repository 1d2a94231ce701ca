"""ops.metric_evaluations and ops.metric_alert_state: every anomaly-check verdict, and each alert's state.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

``metric_evaluations`` holds one row per (check, provider, metric_date): the latest verdict on that day, with the
value, the expected range and the score; re-evaluating a day replaces its row, so re-runs never duplicate.
Every verdict is kept, ``ok``, ``not_enough_data`` and ``data_gap`` included, so a day that was not judged is
visible rather than absent.

``metric_alert_state`` holds one row per (check, provider): whether the check is in anomaly, since which day, and
when the anomaly was last announced. It is what suppression reads (one ``vodflow.metric.anomaly`` per window, one
``vodflow.metric.recovered`` when it ends).
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table ops.metric_evaluations (
            check_name text not null,
            provider text not null,
            metric_date date not null,
            metric text not null,
            method text not null,
            direction text not null check (direction in ('drop', 'spike', 'both')),
            value double precision,
            expected double precision,
            expected_low double precision,
            expected_high double precision,
            score double precision,
            history_points integer not null check (history_points >= 0),
            verdict text not null check (verdict in ('ok', 'anomaly', 'not_enough_data', 'data_gap')),
            severity text not null,
            channel text not null,
            detail text not null default '',
            flow_run_id uuid,
            evaluated_at timestamptz not null default now(),
            primary key (check_name, provider, metric_date),
            constraint metric_evaluations_gap_has_no_value check (verdict <> 'data_gap' or value is null)
        )
        """
    )
    op.execute("create index metric_evaluations_date_idx on ops.metric_evaluations (metric_date, verdict)")
    op.execute(
        """
        create table ops.metric_alert_state (
            check_name text not null,
            provider text not null,
            metric text not null,
            status text not null check (status in ('anomaly', 'ok')),
            since_metric_date date not null,
            last_metric_date date not null,
            last_emitted_at timestamptz,
            anomaly_events integer not null default 0 check (anomaly_events >= 0),
            updated_at timestamptz not null default now(),
            primary key (check_name, provider)
        )
        """
    )


def downgrade() -> None:
    op.execute("drop table if exists ops.metric_alert_state")
    op.execute("drop table if exists ops.metric_evaluations")
