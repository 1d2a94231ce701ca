{#-
    One row per anomaly-check verdict: (check, provider, metric day), with the value, the expected range, the
    score and the verdict. The anomaly-check flow re-evaluates days (their rows are replaced in ops), so the mart
    merges on the same key. Incremental: verdicts written since the newest one here, minus the look-back.
-#}
with

evaluations as (

    select * from {{ ref('stg_ops__metric_evaluations') }}

),

final as (

    select

        ----------  ids
        check_name,
        provider,
        flow_run_id,

        ---------- strings
        metric,
        method,
        direction,
        verdict,
        severity,
        channel,
        detail,

        ---------- numerics
        value::numeric(20, 6) as metric_value,
        expected::numeric(20, 6) as expected,
        expected_low::numeric(20, 6) as expected_low,
        expected_high::numeric(20, 6) as expected_high,
        score::numeric(12, 4) as score,
        history_points,

        ---------- booleans
        verdict = 'anomaly' as is_anomaly,
        verdict = 'data_gap' as is_data_gap,

        ---------- dates
        metric_date,

        ---------- timestamps
        evaluated_at

    from evaluations
    {% if is_incremental() %}
    where evaluated_at >= (
            select coalesce(max(this_mart.evaluated_at), '-infinity'::timestamptz) as newest_evaluated_at
            from {{ this }} as this_mart
        ) - {{ lookback_interval() }}
    {% endif %}

)

select * from final
