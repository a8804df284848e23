-- One row per student per district: identifiers, demographics (SIRAS), enrollment (Focus roster), ESE fields (PEER),
-- the latest Star score per subject with the systems the student is linked in, and the last update per source feed.
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
    s.state_student_id,
    s.local_student_id,
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
    e.enrollment_school_code,
    e.enrollment_grade,
    e.enrolled_since,
    e.enrollment_code,
    {% for column in var('peer_profile_fields').values() %}
    p.{{ column }},
    {% endfor %}
    p.ese_fields_updated_at,
    {% for subject in var('star_subjects') %}
    star_{{ subject }}.scale_score as star_{{ subject }}_score,
    star_{{ subject }}.tested_on as star_{{ subject }}_tested_on,
    {% endfor %}
    l.linked_systems,
    {% for feed in var('student_update_feeds') %}
    u.last_update_{{ feed }},
    {% endfor %}
    u.last_delivery_at,
    s.updated_at as profile_updated_at
from {{ ref('int_students') }} s
left join updates u on u.district_id = s.district_id and u.state_student_id = s.state_student_id
left join {{ ref('stg_focus_roster__enrollment') }} e
    on e.district_id = s.district_id and e.local_student_id = s.local_student_id
left join {{ ref('stg_peer__ese_fields') }} p on p.district_id = s.district_id and p.student_key = s.student_key
left join {{ ref('int_identity_links') }} l on l.district_id = s.district_id and l.student_key = s.student_key
{% for subject in var('star_subjects') %}
left join {{ ref('int_star_latest') }} star_{{ subject }}
    on star_{{ subject }}.district_id = s.district_id and star_{{ subject }}.student_key = s.student_key
    and star_{{ subject }}.subject = '{{ subject }}'
{% endfor %}
