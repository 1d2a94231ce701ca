with

source as (

    select * from {{ source('eidr', 'matches') }}

),

renamed as (

    select

        ----------  ids
        provider,
        provider_asset_id,
        eidr_id as matched_eidr_id,

        ---------- strings
        outcome,
        method,
        decided_by,

        ---------- numerics
        score,

        ---------- timestamps
        matched_at

    from source

)

select * from renamed
