{#-
    The comparison key of a title, in SQL: the same rules as vodflow.eidr.titles.normalise_title (which the EIDR
    matcher and the registry loader use), so a title normalised here equals the registry's title_norm.
    tests/dbt/test_title_parity.py runs both on every sandbox title and on the hard cases, and fails on any
    difference: change the rules in both places, or in neither.

    Steps: NFKC + lower case; accents dropped (NFKD, combining marks removed) and ß, æ, ø… spelt out; trailing
    bracketed groups ("(HD)", "[Remastered]") dropped unless nothing would be left; one leading article dropped,
    also when moved to the end ("Matrix, The"); "&" spelt "and"; dots and apostrophes inside a word dropped;
    any other run of non-word characters becomes one space.
-#}
{% macro normalize_title(column) -%}
    {#- One correlated sub-select whose steps are fenced by "offset 0", so each step is computed once per row
        (a plain nested expression would repeat the earlier steps wherever a later one reads its input). -#}
    {%- set articles = 'the|a|an|le|la|les|el|los|las|il|gli|der|das' -%}
    {%- set apostrophes = "''’‘`´ʼ" -%}
    (
        select coalesce(nullif(collapsed.step, ''), lower(btrim({{ column }})))
        from (select {{ vodflow_fold_title(column) }} as step offset 0) as folded
        cross join lateral (
            select {{ vodflow_strip_brackets('folded.step') }} as step offset 0
        ) as unbracketed
        cross join lateral (
            select {{ vodflow_strip_article('unbracketed.step', articles, apostrophes) }} as step offset 0
        ) as unarticled
        cross join lateral (
            select {{ vodflow_collapse_title('unarticled.step', apostrophes) }} as step offset 0
        ) as collapsed
    )
{%- endmacro %}

{#- NFKC, lower case, accents dropped (NFKD without combining marks), letters that do not decompose spelt out. -#}
{% macro vodflow_fold_title(expr) -%}
    btrim(translate(
        replace(replace(replace(replace(
            regexp_replace(
                normalize(lower(normalize({{ expr }}, NFKC)), NFKD),
                '[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]', '', 'g'
            ),
        'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe'), 'þ', 'th'),
        'øłđðı', 'olddi'
    ))
{%- endmacro %}

{#- Trailing bracketed groups, all of them, unless that would leave nothing. -#}
{% macro vodflow_strip_brackets(expr) -%}
    coalesce(
        nullif(btrim(regexp_replace({{ expr }}, '(\s*(\([^()]*\)|\[[^][]*\]|\{[^{}]*\})\s*)+$', '')), ''),
        btrim({{ expr }})
    )
{%- endmacro %}

{#- One leading article, or one moved to the end after a comma; empty when only the article was there. -#}
{% macro vodflow_strip_article(expr, articles, apostrophes) -%}
    case
        when {{ expr }} ~ '^.+?,\s*({{ articles }}|l[{{ apostrophes }}])$'
            then regexp_replace({{ expr }}, '^(.+?),\s*({{ articles }}|l[{{ apostrophes }}])$', '\1')
        when regexp_replace(
            regexp_replace({{ expr }}, '^(({{ articles }})\s+|l[{{ apostrophes }}](?=\w))', ''), '[^[:alnum:]]+', '', 'g'
        ) <> ''
            then regexp_replace({{ expr }}, '^(({{ articles }})\s+|l[{{ apostrophes }}](?=\w))', '')
        else {{ expr }}
    end
{%- endmacro %}

{#- "&" -> "and", marks inside words dropped, other non-word runs -> one space, trimmed. -#}
{% macro vodflow_collapse_title(expr, apostrophes) -%}
    btrim(regexp_replace(
        regexp_replace(
            replace({{ expr }}, '&', ' and '),
            '([[:alnum:]])[.{{ apostrophes }}](?=[[:alnum:]])', '\1', 'g'
        ),
        '[^[:alnum:]]+', ' ', 'g'
    ))
{%- endmacro %}
