with

source as (

    select * from {{ source('eidr', 'registry') }}

),

renamed as (

    select

        ----------  ids
        eidr_id,
        parent_eidr_id,
        imdb_id,

        ---------- strings
        referent_type,
        title,
        title_norm as title_normalized,
        directors,
        language as language_code,
        country as country_code,
        record_hash,

        ---------- numerics
        release_year,
        runtime_minutes,

        ---------- timestamps
        first_loaded_at,
        loaded_at

    from source

)

select * from renamed
