{#-
    Business rule: an asset may be announced for next year, never later. A later year is a provider's typo
    (3020 for 2020) that would otherwise skew every release-year report. Reads dim_assets the way generic tests
    do (macros/get_where_subquery.sql): an ingestion's build checks the rows it merged, the full build all.
-#}
select
    asset_key,
    release_year
from {{ get_where_subquery(ref('dim_assets')) }}
where release_year > extract(year from current_date)::integer + 1
