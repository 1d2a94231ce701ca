{#-
    One row per supply-chain event, in the order it happened for its asset, with the delivery it belongs to and
    the time since the asset's previous event. Incremental: a late event can renumber its asset's other events
    (a delivery that arrives after its QC verdict), so a run re-reads every event of each asset that has an event
    loaded since the newest one here (minus the look-back), or in a backfill window, and merges on event_id.
-#}
-- depends_on: {{ ref('stg_supply_chain__events') }}
with

{% if is_incremental() %}
changed_assets as (

    select distinct
        staged.provider,
        staged.provider_asset_id
    from {{ ref('stg_supply_chain__events') }} as staged
    where (
        staged.loaded_at >= (
            select coalesce(max(this_mart.loaded_at), '-infinity'::timestamptz) as newest_loaded_at
            from {{ this }} as this_mart
        ) - {{ lookback_interval() }}
        -- not the events already merged (the look-back re-reads the last load, which may be large); a scalar
        -- sub-select, so each candidate is one primary-key lookup rather than a scan of the whole mart
        and (
            select merged.event_id from {{ this }} as merged
            where merged.event_id = staged.event_id
        ) is null
    )
    or {{ in_backfill_window('staged.occurred_at') }}

),
{% endif %}

events as (

    select * from {{ ref('int_supply_chain__sequenced') }}
    {% if is_incremental() %}
    -- A plain condition on the window's partition column, which PostgreSQL pushes below the window functions:
    -- only the changed assets' events are sequenced, through the (provider, provider_asset_id) index.
    where provider_asset_id = any(array(select changed_assets.provider_asset_id from changed_assets))
    {% endif %}

),

final as (

    select

        ----------  ids
        events.event_id,
        events.provider || ':' || events.provider_asset_id as asset_key,
        events.provider || ':' || events.provider_asset_id || ':' || events.delivery_number as delivery_key,
        events.provider,
        events.provider_asset_id,
        events.load_id,

        ---------- strings
        events.event_type,
        events.qc_failure_reason,
        events.platform,

        ---------- numerics
        events.event_sequence::integer as event_sequence,
        events.delivery_number::integer as delivery_number,
        round(
            (extract(epoch from events.occurred_at - events.previous_occurred_at) / 3600.0)::numeric, 3
        )::numeric(14, 3) as hours_since_previous_event,

        ---------- timestamps
        events.occurred_at,
        events.loaded_at

    from events
    {% if is_incremental() %}
    inner join changed_assets
        on events.provider = changed_assets.provider
        and events.provider_asset_id = changed_assets.provider_asset_id
    {% endif %}

)

select * from final
