{#-
    One row per delivery of an asset: delivered -> QC verdict -> published, with lead times and the QC outcome.

    Rules (unit-tested in _marts__models.yml):
    * a delivery starts at its `delivered` event and holds the asset's events until the next delivery;
    * its QC outcome is its first verdict (`passed` or `failed`); `pending` until one arrives;
    * published_at is its first publication; lead times are in hours:
      - qc_lead_time_hours: delivered -> QC verdict;
      - lead_time_hours: delivered -> first publication, only for a delivery that passed QC and was published
        after the pass; a publication without a pass is flagged (published_without_qc_pass), never timed;
    * events before the asset's first delivery (delivery 0) belong to no delivery.
    Incremental like fct_supply_chain: every delivery of an asset with a newly loaded event is recomputed.
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
            select coalesce(max(this_mart.events_loaded_at), '-infinity'::timestamptz) as newest_events_loaded_at
            from {{ this }} as this_mart
        ) - {{ lookback_interval() }}
        -- not the assets whose deliveries were rebuilt after this event was loaded (they include it); a scalar
        -- sub-select, so each candidate is one index lookup rather than a scan of the whole mart
        and staged.loaded_at > coalesce(
            (
                select max(merged.events_loaded_at) as asset_events_loaded_at from {{ this }} as merged
                where merged.provider = staged.provider and merged.provider_asset_id = staged.provider_asset_id
            ),
            '-infinity'::timestamptz
        )
    )
    or {{ in_backfill_window('staged.occurred_at') }}

),
{% endif %}

events as (

    select * from {{ ref('int_supply_chain__sequenced') }}
    where delivery_number > 0 {% if is_incremental() %}
        -- pushed below the window functions: only the changed assets' events are sequenced
        and provider_asset_id = any(array(select changed_assets.provider_asset_id from changed_assets))
    {% endif %}

),

deliveries as (

    select

        events.provider,
        events.provider_asset_id,
        events.delivery_number,
        min(events.occurred_at) filter (where events.event_type = 'delivered') as delivered_at,
        (
            array_agg(events.event_type order by events.occurred_at, events.event_id)
            filter (where events.event_type in ('qc_passed', 'qc_failed'))
        )[1] as first_verdict,
        min(events.occurred_at) filter (where events.event_type in ('qc_passed', 'qc_failed')) as qc_at,
        (
            array_agg(events.qc_failure_reason order by events.occurred_at, events.event_id)
            filter (where events.event_type = 'qc_failed')
        )[1] as qc_failure_reason,
        min(events.occurred_at) filter (where events.event_type = 'qc_passed') as qc_passed_at,
        min(events.occurred_at) filter (where events.event_type = 'published') as published_at,
        array_agg(distinct events.platform order by events.platform)
        filter (where events.event_type = 'published') as platforms,
        count(*) as event_count,
        max(events.loaded_at) as events_loaded_at

    from events
    {% if is_incremental() %}
    inner join changed_assets
        on events.provider = changed_assets.provider
        and events.provider_asset_id = changed_assets.provider_asset_id
    {% endif %}
    group by 1, 2, 3

),

final as (

    select

        ----------  ids
        provider || ':' || provider_asset_id || ':' || delivery_number as delivery_key,
        provider || ':' || provider_asset_id as asset_key,
        provider,
        provider_asset_id,

        ---------- strings
        case first_verdict when 'qc_passed' then 'passed' when 'qc_failed' then 'failed' else 'pending' end
            as qc_outcome,
        case when first_verdict = 'qc_failed' then qc_failure_reason end as qc_failure_reason,
        coalesce(platforms, array[]::text[]) as platforms,

        ---------- numerics
        delivery_number::integer as delivery_number,
        event_count::integer as event_count,
        round((extract(epoch from qc_at - delivered_at) / 3600.0)::numeric, 3)::numeric(14, 3) as qc_lead_time_hours,
        case
            when first_verdict = 'qc_passed' and published_at >= qc_passed_at
                then round((extract(epoch from published_at - delivered_at) / 3600.0)::numeric, 3)
        end::numeric(14, 3) as lead_time_hours,

        ---------- booleans
        published_at is not null as is_published,
        (
            published_at is not null
            and (first_verdict is distinct from 'qc_passed' or published_at < qc_passed_at)
        ) as published_without_qc_pass,

        ---------- timestamps
        delivered_at,
        qc_at,
        published_at,
        events_loaded_at

    from deliveries

)

select * from final
