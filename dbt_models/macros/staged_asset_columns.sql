{#-
    The canonical asset columns every provider's staging model selects from raw.assets: renamed and grouped the
    same way for all providers, so int_assets_unioned can union them. A provider's staging model adds its own
    derived columns beside these (from its payload), never business rules.
-#}
{% macro staged_asset_columns() %}
        ----------  ids
        provider,
        provider_asset_id,
        parent_provider_asset_id,
        eidr_id,
        imdb_id,
        isan,
        load_id,

        ---------- strings
        asset_type,
        title,
        original_title,
        language as language_code,
        rating,
        genres,
        row_hash,

        ---------- numerics
        season_number,
        episode_number,
        release_year,
        runtime_minutes,

        ---------- json
        payload,

        ---------- timestamps
        provider_updated_at,
        extracted_at,
        first_loaded_at,
        loaded_at
{% endmacro %}
