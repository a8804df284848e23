-- One row per student with PEER ESE fields: the fields named in var peer_profile_fields, one column each.
select
    district_id,
    student_key,
    {% for field_id, column in var('peer_profile_fields').items() %}
    max(case when field_id = '{{ field_id }}' then value end) as {{ column }},
    {% endfor %}
    max(updated_at) as ese_fields_updated_at
from {{ source('peer', 'student_fields') }}
where field_id in ({% for field_id in var('peer_profile_fields') %}'{{ field_id }}'{{ ', ' if not loop.last }}{% endfor %})
group by district_id, student_key
