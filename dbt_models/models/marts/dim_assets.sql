{#-
    One row per asset from every provider, with its EIDR ID (provided, or matched by vodflow.eidr), how it was
    obtained, and the work it is across providers (content_key). Incremental: each run merges the rows loaded,
    or re-matched, since the provider's newest row already here, minus a look-back (var lookback_minutes) for
    rows committed late, plus any row whose provider_updated_at falls in a backfill window.
    The watermark is per provider so that a provider added later is read in full, not from another
    provider's watermark. Raw rows are never deleted, so neither are these.
-#}
{#- Read only by incremental runs, so dbt cannot see them at parse time: -#}
{%- for provider in var('providers') %}
-- depends_on: {{ ref('stg_' ~ provider ~ '__assets') }}
{%- endfor %}
-- depends_on: {{ ref('stg_eidr__matches') }}
-- depends_on: {{ ref('int_assets_unioned') }}
with

assets as (

    select * from {{ ref('int_assets_resolved') }}

),

{% if is_incremental() %}
{# The assets to merge, found from cheap columns before any title is normalised: per provider, the raw rows
    loaded since its watermark (its newest row here minus the look-back) and the assets re-matched since its
    re-match watermark, plus a backfill window. Each watermark is a scalar sub-select on an index, so
    PostgreSQL reads raw.assets through its loaded_at index; each candidate is then checked against its own
    row here (one index lookup) so that the look-back, which re-reads the provider's last load, does not merge
    rows again that are already merged. #}
changed_keys as (

    {% for provider in var('providers') %}
    select
        staged.provider,
        staged.provider_asset_id
    from {{ ref('stg_' ~ provider ~ '__assets') }} as staged
    where staged.loaded_at >= coalesce(
            (
                select max(mart.loaded_at) as newest_loaded_at from {{ this }} as mart
                where mart.provider = '{{ provider }}'
            )
            - {{ lookback_interval() }},
            '-infinity'::timestamptz
        )
        and staged.loaded_at > coalesce(
            (
                select merged.loaded_at from {{ this }} as merged
                where merged.asset_key = staged.provider || ':' || staged.provider_asset_id
            ),
            '-infinity'::timestamptz
        )

    union

    select
        matches.provider,
        matches.provider_asset_id
    from {{ ref('stg_eidr__matches') }} as matches
    where matches.provider = '{{ provider }}'
        and matches.matched_at >= coalesce(
            (
                select max(mart.eidr_matched_at) as newest_matched_at from {{ this }} as mart
                where mart.provider = '{{ provider }}'
            )
            - {{ lookback_interval() }},
            '-infinity'::timestamptz
        )
        and matches.matched_at > coalesce(
            (
                select merged.eidr_matched_at from {{ this }} as merged
                where merged.asset_key = matches.provider || ':' || matches.provider_asset_id
            ),
            '-infinity'::timestamptz
        )

    union

    {% endfor %}
    select
        provider,
        provider_asset_id
    from {{ ref('int_assets_unioned') }}
    where {{ in_backfill_window('provider_updated_at') }}

),
{% endif %}

final as (

    select

        ----------  ids
        assets.asset_key,
        assets.provider,
        assets.provider_asset_id,
        assets.parent_asset_key,
        assets.content_key,
        assets.resolved_eidr_id as eidr_id,
        assets.imdb_id,
        assets.isan,
        assets.load_id,

        ---------- strings
        assets.asset_type,
        assets.title,
        assets.title_normalized,
        assets.original_title,
        assets.language_code,
        assets.rating,
        assets.genres,
        assets.eidr_match_status,
        assets.eidr_match_method,

        ---------- numerics
        assets.season_number,
        assets.episode_number,
        assets.release_year,
        assets.runtime_minutes,
        assets.eidr_match_score,

        ---------- booleans
        assets.resolved_eidr_id is not null as has_eidr_id,

        ---------- timestamps
        assets.provider_updated_at,
        assets.first_loaded_at,
        assets.loaded_at,
        assets.eidr_matched_at

    from assets
    {% if is_incremental() %}
    where assets.provider_asset_id = any(array(select changed_keys.provider_asset_id from changed_keys))
        and (assets.provider, assets.provider_asset_id) in (
            select
                changed_keys.provider,
                changed_keys.provider_asset_id
            from changed_keys
        )
    {% endif %}

)

select * from final
