with

source as (

    select * from {{ source('ops', 'metric_evaluations') }}

),

renamed as (

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
        value,
        expected,
        expected_low,
        expected_high,
        score,
        history_points,

        ---------- dates
        metric_date,

        ---------- timestamps
        evaluated_at

    from source

)

select * from renamed
