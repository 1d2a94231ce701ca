with

source as (

    select * from {{ source('ops', 'loads') }}

),

renamed as (

    select

        ----------  ids
        load_id,
        provider,
        flow_run_id,

        ---------- strings
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

        ---------- timestamps
        started_at,
        finished_at,
        window_start,
        window_end,
        cursor_before,
        cursor_after

    from source

)

select * from renamed
