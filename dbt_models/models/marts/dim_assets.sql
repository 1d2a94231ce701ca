{#-
    One row per asset from every provider. Incremental: each run merges the rows loaded since the provider's
    newest row already here, minus a look-back (var lookback_minutes) for rows committed late.
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

{% if is_incremental() %}
watermarks as (

    select
        provider,
        max(loaded_at) - make_interval(mins => {{ lookback_minutes }}) as reload_from
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
        assets.eidr_id,
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

        ---------- numerics
        assets.season_number,
        assets.episode_number,
        assets.release_year,
        assets.runtime_minutes,

        ---------- booleans
        assets.eidr_id is not null as has_eidr_id,

        ---------- timestamps
        assets.provider_updated_at,
        assets.first_loaded_at,
        assets.loaded_at

    from assets
    {% if is_incremental() %}
    left join watermarks
        on assets.provider = watermarks.provider
    where assets.loaded_at >= coalesce(watermarks.reload_from, '-infinity'::timestamptz)
    {% endif %}

)

select * from final
