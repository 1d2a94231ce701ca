{#-
    Every provider's staging assets in one relation, with the keys the marts use.
    Adding a provider: write its staging model stg_<provider>__assets, then add its name to var providers
    (dbt_project.yml).
-#}
{%- set providers = var('providers') -%}

{#- Explicit columns, so the staging models' column order does not matter to the union. -#}
{%- set columns = [
    'provider', 'provider_asset_id', 'parent_provider_asset_id', 'eidr_id', 'imdb_id', 'isan', 'load_id',
    'asset_type', 'title', 'original_title', 'language_code', 'rating', 'genres',
    'season_number', 'episode_number', 'release_year', 'runtime_minutes',
    'provider_updated_at', 'first_loaded_at', 'loaded_at',
] -%}

with

unioned as (

    {% for provider in providers %}
    select {{ columns | join(', ') }}
    from {{ ref('stg_' ~ provider ~ '__assets') }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

keyed as (

    select

        ----------  ids
        unioned.provider || ':' || unioned.provider_asset_id as asset_key,
        case
            when unioned.parent_provider_asset_id is not null
                then unioned.provider || ':' || unioned.parent_provider_asset_id
        end as parent_asset_key,
        unioned.*

    from unioned

)

select * from keyed
