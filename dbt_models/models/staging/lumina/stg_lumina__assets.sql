with

source as (

    select * from {{ source('lumina', 'assets') }}
    where provider = 'lumina'

),

renamed as (

    select
        {{ staged_asset_columns() }}
    from source

)

select * from renamed
