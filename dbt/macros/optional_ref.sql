{# A model named by a var when set (an extension point), else an empty relation with the given typed columns. #}
{% macro optional_ref(var_name, columns) -%}
  {%- set model = var(var_name, none) -%}
  {%- if model -%}
    select {{ columns.keys() | join(', ') }} from {{ ref(model) }}
  {%- else -%}
    select {% for name, type in columns.items() %}cast(null as {{ type }}) as {{ name }}{{ ', ' if not loop.last }}{% endfor %}
    where 1 = 0
  {%- endif -%}
{%- endmacro %}
