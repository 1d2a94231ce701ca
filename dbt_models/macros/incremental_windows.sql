{#-
    How incremental models choose the rows to re-read, in one place:

    * lookback_interval(): how far before a mart's newest row to re-read raw rows (var lookback_minutes), for
      rows a long load committed after an earlier transform had already run;
    * in_backfill_window(column): with vars window_start and window_end (ISO timestamps, set by a backfill or by
      `transform(start=..., end=...)`), rows whose business time falls in [start, end) are re-read as well, so a
      backfill rebuilds its window even when its rows were loaded long ago. Without them it is `false`.

    Bad vars fail the build at compile time, before any model runs.
-#}
{% macro lookback_interval() -%}
    {%- set minutes = var('lookback_minutes') | string -%}
    {%- if not minutes.isdigit() -%}
        {{ exceptions.raise_compiler_error(
            "var lookback_minutes must be a whole number of minutes, got '" ~ minutes ~ "'"
        ) }}
    {%- endif -%}
    make_interval(mins => {{ minutes }})
{%- endmacro %}

{% macro backfill_window() -%}
    {#- Returns [start, end] as ISO strings, or none. -#}
    {%- set start = var('window_start', none) -%}
    {%- set end = var('window_end', none) -%}
    {%- if start is none and end is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if start is none or end is none -%}
        {{ exceptions.raise_compiler_error("vars window_start and window_end go together; got only one") }}
    {%- endif -%}
    {%- set parsed = [] -%}
    {%- for value in [start, end] -%}
        {%- set text = value | string -%}
        {%- set candidate = text.replace('Z', '+00:00') -%}
        {%- set iso = '^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?)?([+-]\\d{2}:\\d{2})?$' -%}
        {%- if not modules.re.match(iso, candidate) -%}
            {{ exceptions.raise_compiler_error("window bound '" ~ text ~ "' is not an ISO date or timestamp") }}
        {%- endif -%}
        {%- set moment = modules.datetime.datetime.fromisoformat(candidate) -%}
        {%- if moment.tzinfo is none -%}
            {%- set moment = moment.replace(tzinfo=modules.pytz.utc) -%}
        {%- endif -%}
        {%- do parsed.append(moment) -%}
    {%- endfor -%}
    {%- if parsed[0] >= parsed[1] -%}
        {{ exceptions.raise_compiler_error(
            "backfill window start " ~ start ~ " is not before its end " ~ end
        ) }}
    {%- endif -%}
    {{ return([parsed[0].isoformat(), parsed[1].isoformat()]) }}
{%- endmacro %}

{% macro in_backfill_window(column) -%}
    {%- set window = backfill_window() -%}
    {%- if window is none -%}
        false
    {%- else -%}
        ({{ column }} >= '{{ window[0] }}'::timestamptz and {{ column }} < '{{ window[1] }}'::timestamptz)
    {%- endif -%}
{%- endmacro %}

{#- The UTC calendar day of a timestamp: metrics are per UTC day, whatever the session's time zone. -#}
{% macro utc_date(column) -%}
    ({{ column }} at time zone 'UTC')::date
{%- endmacro %}
