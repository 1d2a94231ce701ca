with

source as (

    select * from {{ source('atlas', 'assets') }}
    where provider = 'atlas'

),

renamed as (

    select
        {{ staged_asset_columns() }}
    from source

)

select * from renamed
