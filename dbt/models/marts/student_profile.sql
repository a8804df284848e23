-- One row per student per district: identifiers, demographics, program (special education / 504 / ESE) fields,
-- the latest Star score per subject and the last update per source feed.
{% set subjects = ['reading', 'math'] %}
with updates as (
    select
        district_id,
        state_student_id,
        {% for feed in var('student_update_feeds') %}
        max(case when source_feed = '{{ feed }}' then updated_at end) as last_update_{{ feed }},
        {% endfor %}
        max(updated_at) as last_delivery_at
    from {{ ref('int_student_updates') }}
    group by district_id, state_student_id
)
select
    s.district_id,
    s.student_key,
    i.state_student_id,
    i.local_student_id,
    s.grade,
    s.gender,
    s.ethnicity,
    s.race1,
    s.race2,
    s.race3,
    s.el_type,
    s.native_language,
    s.migrant,
    s.school_code,
    s.designation as program_designation,
    s.status as enrollment_status,
    {% for subject in subjects %}
    star_{{ subject }}.scale_score as star_{{ subject }}_score,
    star_{{ subject }}.tested_on as star_{{ subject }}_tested_on,
    {% endfor %}
    {% for feed in var('student_update_feeds') %}
    u.last_update_{{ feed }},
    {% endfor %}
    u.last_delivery_at,
    s.updated_at as profile_updated_at
from {{ ref('stg_hub__students') }} s
join {{ ref('int_student_identifiers') }} i on i.district_id = s.district_id and i.student_key = s.student_key
left join updates u on u.district_id = s.district_id and u.state_student_id = i.state_student_id
{% for subject in subjects %}
left join {{ ref('int_star_latest') }} star_{{ subject }}
    on star_{{ subject }}.district_id = s.district_id and star_{{ subject }}.state_student_id = i.state_student_id
    and lower(star_{{ subject }}.subject) = '{{ subject }}'
{% endfor %}
