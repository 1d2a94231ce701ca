with

source as (

    select * from {{ source('ops', 'quarantine') }}

),

renamed as (

    select

        ----------  ids
        quarantine_id,
        provider,
        provider_asset_id,
        row_hash,
        first_load_id,
        last_load_id,

        ---------- json
        reasons,
        raw_row,

        ---------- numerics
        times_seen,

        ---------- timestamps
        first_seen_at,
        last_seen_at

    from source

)

select * from renamed
