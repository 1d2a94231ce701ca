{#-
    Business rule: an asset may be announced for next year, never later. A later year is a provider's typo
    (3020 for 2020) that would otherwise skew every release-year report.
-#}
select
    asset_key,
    release_year
from {{ ref('dim_assets') }}
where release_year > extract(year from current_date)::integer + 1
