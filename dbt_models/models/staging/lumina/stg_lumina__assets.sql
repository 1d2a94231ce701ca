with

source as (

    select * from {{ source('lumina', 'assets') }}
    where provider = 'lumina'

),

renamed as (

    select

        ----------  ids
        provider,
        provider_asset_id,
        parent_provider_asset_id,
        eidr_id,
        imdb_id,
        isan,
        load_id,

        ---------- strings
        asset_type,
        title,
        original_title,
        language as language_code,
        rating,
        genres,
        row_hash,

        ---------- numerics
        season_number,
        episode_number,
        release_year,
        runtime_minutes,

        ---------- json
        payload,

        ---------- timestamps
        provider_updated_at,
        extracted_at,
        first_loaded_at,
        loaded_at

    from source

)

select * from renamed
