{#-
    Every provider's assets with their EIDR ID resolved and a cross-provider identity.

    EIDR resolution (one rule, used by every mart): an ID the provider sent (valid: invalid ones are quarantined)
    wins; otherwise the matcher's or a reviewer's `duplicate` decision supplies it; otherwise the asset has none.

    Identity across providers (content_key): the EIDR ID when there is one, since two providers' deliveries of the
    same work share it; else, for a film with a release year, its normalised title and year (the matcher's own
    key); else the asset itself. Episodes and seasons never share a title key: "Pilot" is many works.
-#}
with

assets as (

    select * from {{ ref('int_assets_unioned') }}

),

matches as (

    select * from {{ ref('stg_eidr__matches') }}

),

resolved as (

    select

        assets.*,
        coalesce(assets.eidr_id, matches.matched_eidr_id) as resolved_eidr_id,
        case
            when assets.eidr_id is not null then 'provided'
            else coalesce(matches.outcome, 'unmatched')
        end as eidr_match_status,
        case when assets.eidr_id is not null then 'provided' else matches.method end as eidr_match_method,
        case when assets.eidr_id is not null then 1.0::double precision else matches.score end as eidr_match_score,
        matches.matched_at as eidr_matched_at,
        -- sqlfluff's PostgreSQL grammar cannot parse the macro's `select <expr> offset 0` (no from clause),
        -- which PostgreSQL accepts: the optimisation fences are deliberate (macros/normalize_title.sql).
        {{ normalize_title('assets.title') }} as title_normalized -- noqa: PRS

    from assets
    left join matches
        on assets.provider = matches.provider
        and assets.provider_asset_id = matches.provider_asset_id

),

final as (

    select

        *,
        case
            when resolved_eidr_id is not null then 'eidr:' || resolved_eidr_id
            when asset_type = 'movie' and release_year is not null
                then 'title:' || title_normalized || ':' || release_year
            else 'asset:' || asset_key
        end as content_key

    from resolved

)

select * from final
