{#-
    Supply-chain events put in the order they happened per asset, each tagged with the delivery it belongs to.

    Sequencing rule: the feed sends events late and out of order, so order is occurred_at (ties by event_id,
    which keeps the order stable between runs), never arrival. A `delivered` event opens a delivery; every later
    event of the asset belongs to it until the next `delivered`. Events before the first delivery get delivery 0
    (their delivery has not arrived yet; once it does, they are renumbered).
-#}
with

events as (

    select * from {{ ref('stg_supply_chain__events') }}

),

sequenced as (

    select

        events.*,
        row_number() over asset_events as event_sequence,
        count(*) filter (where events.event_type = 'delivered') over asset_events as delivery_number,
        lag(events.occurred_at) over asset_events as previous_occurred_at

    from events
    window asset_events as (
        partition by provider, provider_asset_id
        order by occurred_at, event_id
        rows between unbounded preceding and current row
    )

)

select * from sequenced
