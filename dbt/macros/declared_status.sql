{# Every value of column_name is a status the hub declares (hub/store/statuses.py, copied to <schema>.delivery_statuses
   beside the tested table). The declared table is named, not a source(), so the test has one parent: the tested
   table, whose asset check it becomes (dagster-dbt attaches a test to its single parent). #}
{% test declared_status(model, column_name) %}
{%- set declared = api.Relation.create(database=model.database, schema=model.schema, identifier='delivery_statuses') -%}
select {{ column_name }} from {{ model }}
where {{ column_name }} not in (select status from {{ declared }})
{% endtest %}
