with

source as (

    select * from {{ source('harbor', 'assets') }}
    where provider = 'harbor'

),

renamed as (

    select
        {{ staged_asset_columns() }}
    from source

)

select * from renamed
