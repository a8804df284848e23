-- Identifiers per student: the identity crosswalk when var identity_crosswalk_model names it, else core.students.
{% if var('identity_crosswalk_model', none) %}
select district_id, student_key, state_student_id, local_student_id from {{ ref(var('identity_crosswalk_model')) }}
{% else %}
select district_id, student_key, state_student_id, local_student_id from {{ ref('stg_hub__students') }}
{% endif %}
