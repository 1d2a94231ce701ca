{#-
    One row per provider per UTC day: the business metrics the anomaly checks watch. Definitions (unit-tested in
    _marts__models.yml), all per provider and UTC day:

    * deliveries: deliveries that day (a re-delivery after a QC failure counts again: it is work received);
      0 on a day without any. redeliveries: those that were not an asset's first delivery;
    * qc_decisions, qc_failures: first QC verdicts made that day; qc_failure_rate = failures / decisions,
      null without decisions;
    * published_deliveries: deliveries first published that day; median_lead_time_hours: their median
      delivered -> published time (fct_deliveries.lead_time_hours), null when none were timed;
    * ingest_runs, failed_runs: runs that finished that day; new_assets, updated_assets, quarantined_rows,
      received_rows: the succeeded runs' audit counts, and quarantine_share = quarantined / received. With no
      succeeded run these are null, not 0: a day nobody loaded is a data gap, not a day without assets;
    * ingest_lag_seconds: the worst lag of the day's runs that wrote rows (fct_ingest_runs), null when none;
    * eidr_match_rate: of the assets first loaded that day without a provided EIDR ID, the share matched
      (outcome duplicate); eidr_coverage_rate: of all assets first loaded that day, the share with an EIDR ID.
      Both follow review decisions: a day is recomputed when one of its assets is re-matched.

    Every day from a provider's first activity to today (var metrics_through) has a row, so a collapse to
    zero deliveries is a row with 0, never a missing row.
    Incremental: only (provider, day) pairs whose inputs changed since the newest input seen here (minus the
    look-back), new days, and days in a backfill window are recomputed, each from all of its inputs, and merged
    on (provider, metric_date); so an incremental run and a --full-refresh agree.
-#}
{%- set through = var('metrics_through', none) -%}
{%- set through_sql = "'" ~ through ~ "'::date" if through else "(now() at time zone 'UTC')::date" -%}
with

deliveries as (

    select * from {{ ref('fct_deliveries') }}

),

runs as (

    select * from {{ ref('fct_ingest_runs') }}
    where run_kind = 'provider'

),

assets as (

    select * from {{ ref('dim_assets') }}

),

{% if is_incremental() %}
watermark as (

    select coalesce(max(inputs_changed_at), '-infinity'::timestamptz) - {{ lookback_interval() }} as changed_from
    from {{ this }}

),
{% endif %}

{# Every (provider, day) an input row belongs to, and when that input row last changed. #}
activity as (

    select
        provider,
        {{ utc_date('delivered_at') }} as metric_date,
        events_loaded_at as changed_at
    from deliveries
    {% if is_incremental() %}where events_loaded_at >= (select watermark.changed_from from watermark){% endif %}

    union all

    select
        provider,
        {{ utc_date('qc_at') }} as metric_date,
        events_loaded_at as changed_at
    from deliveries
    where qc_at is not null {% if is_incremental() %}
        and events_loaded_at >= (select watermark.changed_from from watermark)
    {% endif %}

    union all

    select
        provider,
        {{ utc_date('published_at') }} as metric_date,
        events_loaded_at as changed_at
    from deliveries
    where published_at is not null {% if is_incremental() %}
        and events_loaded_at >= (select watermark.changed_from from watermark)
    {% endif %}

    union all

    select
        provider,
        {{ utc_date('finished_at') }} as metric_date,
        finished_at as changed_at
    from runs
    {% if is_incremental() %}where finished_at >= (select watermark.changed_from from watermark){% endif %}

    union all

    select
        provider,
        {{ utc_date('first_loaded_at') }} as metric_date,
        greatest(loaded_at, eidr_matched_at) as changed_at
    from assets
    {% if is_incremental() %}
    where loaded_at >= (select watermark.changed_from from watermark)
        or eidr_matched_at >= (select watermark.changed_from from watermark)
    {% endif %}

),

{% if is_incremental() %}
existing as (

    select
        provider,
        min(metric_date) as first_day,
        max(metric_date) as last_day
    from {{ this }}
    group by 1

),

changed_first as (

    select
        provider,
        min(metric_date) as first_day
    from activity
    group by 1

),

days as (

    -- days whose inputs changed
    select distinct
        provider,
        metric_date
    from activity

    union

    -- days after the provider's last row here (or from its first activity, for a provider new here)
    select
        changed_first.provider,
        calendar_day::date
    from changed_first
    left join existing on changed_first.provider = existing.provider
    cross join
        lateral generate_series(
            coalesce(existing.last_day + 1, changed_first.first_day), {{ through_sql }}, interval '1 day'
        ) as calendar_day

    union

    select
        existing.provider,
        calendar_day::date
    from existing
    cross join lateral generate_series(existing.last_day + 1, {{ through_sql }}, interval '1 day') as calendar_day

    union

    -- days before the provider's first row here, when a backfill brought older activity
    select
        changed_first.provider,
        calendar_day::date
    from changed_first
    inner join existing on changed_first.provider = existing.provider
    cross join
        lateral generate_series(
            changed_first.first_day, existing.first_day - 1, interval '1 day'
        ) as calendar_day

    {% set window = backfill_window() %}
    {% if window is not none %}
    union

    select
        existing.provider,
        calendar_day::date
    from existing
    cross join
        lateral generate_series(
            greatest(existing.first_day, '{{ window[0] }}'::timestamptz at time zone 'UTC'),
            least({{ through_sql }}, '{{ window[1] }}'::timestamptz at time zone 'UTC'),
            interval '1 day'
        ) as calendar_day
    {% endif %}

),
{% else %}
days as (

    select
        bounds.provider,
        calendar_day::date as metric_date
    from (
        select
            provider,
            min(metric_date) as first_day
        from activity
        group by 1
    ) as bounds
    cross join lateral generate_series(bounds.first_day, {{ through_sql }}, interval '1 day') as calendar_day

),
{% endif %}

selected_days as (

    select distinct
        provider,
        metric_date
    from days
    where metric_date <= {{ through_sql }}

),

delivered as (

    select
        provider,
        {{ utc_date('delivered_at') }} as metric_date,
        count(*) as deliveries,
        count(*) filter (where delivery_number > 1) as redeliveries
    from deliveries
    where (provider, {{ utc_date('delivered_at') }}) in (
            select
                selected_days.provider,
                selected_days.metric_date
            from selected_days
        )
    group by 1, 2

),

checked as (

    select
        provider,
        {{ utc_date('qc_at') }} as metric_date,
        count(*) as qc_decisions,
        count(*) filter (where qc_outcome = 'failed') as qc_failures
    from deliveries
    where qc_at is not null
        and (provider, {{ utc_date('qc_at') }}) in (
            select
                selected_days.provider,
                selected_days.metric_date
            from selected_days
        )
    group by 1, 2

),

published as (

    select
        provider,
        {{ utc_date('published_at') }} as metric_date,
        count(*) as published_deliveries,
        percentile_cont(0.5) within group (order by lead_time_hours) as median_lead_time_hours
    from deliveries
    where published_at is not null
        and (provider, {{ utc_date('published_at') }}) in (
            select
                selected_days.provider,
                selected_days.metric_date
            from selected_days
        )
    group by 1, 2

),

ran as (

    select
        provider,
        {{ utc_date('finished_at') }} as metric_date,
        count(*) as ingest_runs,
        count(*) filter (where not is_success) as failed_runs,
        count(*) filter (where is_success) as succeeded_runs,
        sum(received) filter (where is_success) as received_rows,
        sum(inserted) filter (where is_success) as new_assets,
        sum(updated) filter (where is_success) as updated_assets,
        sum(quarantined) filter (where is_success) as quarantined_rows,
        max(ingest_lag_seconds) as ingest_lag_seconds,
        max(finished_at) as changed_at
    from runs
    where (provider, {{ utc_date('finished_at') }}) in (
            select
                selected_days.provider,
                selected_days.metric_date
            from selected_days
        )
    group by 1, 2

),

matched as (

    select
        provider,
        {{ utc_date('first_loaded_at') }} as metric_date,
        count(*) as first_loaded_assets,
        count(*) filter (where has_eidr_id) as assets_with_eidr_id,
        count(*) filter (where eidr_match_status <> 'provided') as assets_to_match,
        count(*) filter (where eidr_match_status = 'duplicate') as assets_matched,
        max(greatest(loaded_at, eidr_matched_at)) as changed_at
    from assets
    where (provider, {{ utc_date('first_loaded_at') }}) in (
            select
                selected_days.provider,
                selected_days.metric_date
            from selected_days
        )
    group by 1, 2

),

events_changed as (

    select
        provider,
        metric_date,
        max(changed_at) as changed_at
    from (
        select
            provider,
            {{ utc_date('delivered_at') }} as metric_date,
            events_loaded_at as changed_at
        from deliveries
        union all
        select
            provider,
            {{ utc_date('qc_at') }} as metric_date,
            events_loaded_at as changed_at
        from deliveries
        where qc_at is not null
        union all
        select
            provider,
            {{ utc_date('published_at') }} as metric_date,
            events_loaded_at as changed_at
        from deliveries
        where published_at is not null
    ) as dated
    where (provider, metric_date) in (
            select
                selected_days.provider,
                selected_days.metric_date
            from selected_days
        )
    group by 1, 2

),

final as (

    select

        ----------  ids
        selected_days.provider,
        selected_days.metric_date,

        ---------- supply chain
        coalesce(delivered.deliveries, 0)::integer as deliveries,
        coalesce(delivered.redeliveries, 0)::integer as redeliveries,
        coalesce(checked.qc_decisions, 0)::integer as qc_decisions,
        coalesce(checked.qc_failures, 0)::integer as qc_failures,
        case
            when checked.qc_decisions > 0 then round(checked.qc_failures::numeric / checked.qc_decisions, 4)
        end::numeric(7, 4) as qc_failure_rate,
        coalesce(published.published_deliveries, 0)::integer as published_deliveries,
        round(published.median_lead_time_hours::numeric, 3)::numeric(14, 3) as median_lead_time_hours,

        ---------- ingestion
        coalesce(ran.ingest_runs, 0)::integer as ingest_runs,
        coalesce(ran.failed_runs, 0)::integer as failed_runs,
        case when ran.succeeded_runs > 0 then ran.received_rows end::integer as received_rows,
        case when ran.succeeded_runs > 0 then ran.new_assets end::integer as new_assets,
        case when ran.succeeded_runs > 0 then ran.updated_assets end::integer as updated_assets,
        case when ran.succeeded_runs > 0 then ran.quarantined_rows end::integer as quarantined_rows,
        case
            when ran.received_rows > 0 then round(ran.quarantined_rows::numeric / ran.received_rows, 4)
        end::numeric(7, 4) as quarantine_share,
        ran.ingest_lag_seconds::numeric(14, 3) as ingest_lag_seconds,

        ---------- EIDR
        coalesce(matched.first_loaded_assets, 0)::integer as first_loaded_assets,
        case
            when matched.assets_to_match > 0 then round(matched.assets_matched::numeric / matched.assets_to_match, 4)
        end::numeric(7, 4) as eidr_match_rate,
        case
            when matched.first_loaded_assets > 0
                then round(matched.assets_with_eidr_id::numeric / matched.first_loaded_assets, 4)
        end::numeric(7, 4) as eidr_coverage_rate,

        ---------- bookkeeping
        greatest(ran.changed_at, matched.changed_at, events_changed.changed_at) as inputs_changed_at

    from selected_days
    left join delivered
        on selected_days.provider = delivered.provider and selected_days.metric_date = delivered.metric_date
    left join checked
        on selected_days.provider = checked.provider and selected_days.metric_date = checked.metric_date
    left join published
        on selected_days.provider = published.provider and selected_days.metric_date = published.metric_date
    left join ran
        on selected_days.provider = ran.provider and selected_days.metric_date = ran.metric_date
    left join matched
        on selected_days.provider = matched.provider and selected_days.metric_date = matched.metric_date
    left join events_changed
        on selected_days.provider = events_changed.provider
        and selected_days.metric_date = events_changed.metric_date

)

select * from final
