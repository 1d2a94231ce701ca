with

source as (

    select * from {{ source('supply_chain', 'events') }}

),

renamed as (

    select

        ----------  ids
        event_id,
        provider,
        provider_asset_id,
        load_id,

        ---------- strings
        source as feed,
        event_type,
        reason as qc_failure_reason,
        platform,

        ---------- json
        payload,

        ---------- timestamps
        occurred_at,
        extracted_at,
        loaded_at

    from source

)

select * from renamed
