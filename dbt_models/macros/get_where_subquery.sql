{#-
    Where data tests read their model from: dbt's own rule (the test's `where` config), plus, in a pipeline
    build (var test_scope = 'recent'), only the rows written in the last var recent_test_hours hours, for the
    models listed in var recent_row_columns (the marts, and the staging views over large raw tables).

    Why: an ingestion's build merges a few rows into marts of millions, and its tests must not re-scan the
    millions every time (that would cost more than the merge). Rows merged earlier were tested when they were
    merged; keys are also primary keys, so the database itself refuses a duplicate or a null key anywhere.
    The scheduled and on-demand `transform` builds (test_scope 'all', the default) and CI test every row.
    var recent_row_columns names, per model, the column that says when its row was last written.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set scope = var('test_scope', 'all') -%}
    {%- if scope not in ['all', 'recent'] -%}
        {{ exceptions.raise_compiler_error("var test_scope must be 'all' or 'recent', got '" ~ scope ~ "'") }}
    {%- endif -%}
    {%- set column = var('recent_row_columns', {}).get(relation.identifier) if relation.identifier else none -%}
    {%- if scope == 'recent' and column -%}
        {%- set hours = var('recent_test_hours') | string -%}
        {%- if not hours.isdigit() -%}
            {{ exceptions.raise_compiler_error("var recent_test_hours must be a whole number, got '" ~ hours ~ "'") }}
        {%- endif -%}
        {%- do conditions.append(column ~ ' >= now() - make_interval(hours => ' ~ hours ~ ')') -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
