{#-
    One row per asset from every provider, with its EIDR ID (provided, or matched by vodflow.eidr) and how it
    was obtained. Incremental: each run merges the rows loaded, or re-matched, since the provider's newest row
    already here, minus a look-back (var lookback_minutes) for rows committed late.
    The watermark is per provider so that a provider added later is read in full, not from another
    provider's watermark. Raw rows are never deleted, so neither are these.
-#}
{%- set lookback_minutes = var('lookback_minutes') | string -%}
{%- if not lookback_minutes.isdigit() -%}
    {{ exceptions.raise_compiler_error(
        "var lookback_minutes must be a whole number of minutes, got '" ~ lookback_minutes ~ "'"
    ) }}
{%- endif -%}

with

assets as (

    select * from {{ ref('int_assets_unioned') }}

),

matches as (

    select * from {{ ref('stg_eidr__matches') }}

),

{% if is_incremental() %}
watermarks as (

    select
        provider,
        max(loaded_at) - make_interval(mins => {{ lookback_minutes }}) as reload_from,
        max(eidr_matched_at) - make_interval(mins => {{ lookback_minutes }}) as rematch_from
    from {{ this }}
    group by provider

),
{% endif %}

final as (

    select

        ----------  ids
        assets.asset_key,
        assets.provider,
        assets.provider_asset_id,
        assets.parent_asset_key,
        coalesce(assets.eidr_id, matches.matched_eidr_id) as eidr_id,
        assets.imdb_id,
        assets.isan,
        assets.load_id,

        ---------- strings
        assets.asset_type,
        assets.title,
        assets.original_title,
        assets.language_code,
        assets.rating,
        assets.genres,
        case
            when assets.eidr_id is not null then 'provided'
            else coalesce(matches.outcome, 'unmatched')
        end as eidr_match_status,
        case when assets.eidr_id is not null then 'provided' else matches.method end as eidr_match_method,

        ---------- numerics
        assets.season_number,
        assets.episode_number,
        assets.release_year,
        assets.runtime_minutes,
        case when assets.eidr_id is not null then 1.0::double precision else matches.score end as eidr_match_score,

        ---------- booleans
        coalesce(assets.eidr_id, matches.matched_eidr_id) is not null as has_eidr_id,

        ---------- timestamps
        assets.provider_updated_at,
        assets.first_loaded_at,
        assets.loaded_at,
        matches.matched_at as eidr_matched_at

    from assets
    left join matches
        on assets.provider = matches.provider
        and assets.provider_asset_id = matches.provider_asset_id
    {% if is_incremental() %}
    left join watermarks
        on assets.provider = watermarks.provider
    where assets.loaded_at >= coalesce(watermarks.reload_from, '-infinity'::timestamptz)
        or matches.matched_at >= coalesce(watermarks.rematch_from, '-infinity'::timestamptz)
    {% endif %}

)

select * from final
