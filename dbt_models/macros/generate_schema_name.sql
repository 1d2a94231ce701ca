{#-
    Custom schemas are used as they are (staging, intermediate, marts), without dbt's default
    "<target schema>_" prefix: the database layout is a contract that other tools read.
    Models without a custom schema land in the target's schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
