with

source as (

    select * from {{ source('meridian', 'assets') }}
    where provider = 'meridian'

),

renamed as (

    select
        {{ staged_asset_columns() }}
    from source

)

select * from renamed
