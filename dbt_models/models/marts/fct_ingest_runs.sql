{#-
    One row per ingestion run from the load audit, with its counts, duration and lag.
    ingest_lag_seconds: how old the newest change a run wrote was when the run committed (finished_at minus the
    cursor it reached, which is the newest provider_updated_at it received); only for succeeded incremental runs
    that wrote rows: a run that wrote nothing says nothing about lag, and a backfill window re-reads old changes on
    purpose (its "lag" would be the window's age).
    Incremental: runs that finished since the newest one here (minus the look-back), or started in a backfill
    window, merged on load_id. Audit rows are never changed after they are written.
-#}
with

loads as (

    select * from {{ ref('stg_ops__loads') }}

),

final as (

    select

        ----------  ids
        load_id,
        provider,
        flow_run_id,

        ---------- strings
        case when provider in ({{ "'" ~ var('feeds') | join("', '") ~ "'" }}) then 'feed' else 'provider' end
            as run_kind,
        status,
        error,

        ---------- numerics
        served,
        deduplicated,
        received,
        inserted,
        updated,
        unchanged,
        stale,
        quarantined,
        case when received > 0 then round(quarantined::numeric / received, 4) end::numeric(7, 4) as quarantine_share,
        round(extract(epoch from finished_at - started_at)::numeric, 3)::numeric(14, 3) as duration_seconds,
        case
            when
                status = 'succeeded' and inserted + updated > 0 and cursor_after is not null
                and window_end is null
                then round(extract(epoch from finished_at - cursor_after)::numeric, 3)
        end::numeric(14, 3) as ingest_lag_seconds,

        ---------- booleans
        status = 'succeeded' as is_success,

        ---------- timestamps
        started_at,
        finished_at,
        window_start,
        window_end,
        cursor_before,
        cursor_after

    from loads
    {% if is_incremental() %}
    where finished_at >= (
            select coalesce(max(this_mart.finished_at), '-infinity'::timestamptz) as newest_finished_at
            from {{ this }} as this_mart
        ) - {{ lookback_interval() }}
        or {{ in_backfill_window('started_at') }}
    {% endif %}

)

select * from final
