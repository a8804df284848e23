-- Every hub student: core.students (SIRAS and the Focus roster, keyed by state id) and the students of districts
-- identified through ClassLink (keyed by ClassLink id, with the PowerSchool record the crosswalk links). A district
-- delivering both would list a student once per key: no crosswalk joins a state id to a ClassLink id yet.
with ps_link as (
    select district_id, student_key, system_id as student_number,
           row_number() over (partition by district_id, student_key order by system_id) as n
    from {{ ref('stg_identity__crosswalk') }}
    where system = 'powerschool'
)
select district_id, student_key, state_student_id, local_student_id, grade, gender, ethnicity, race1, race2, race3,
       el_type, native_language, migrant, school_code, designation, status, updated_at
from {{ ref('stg_hub__students') }}
union all
select c.district_id, c.student_key, cast(null as varchar), l.student_number, p.grade_level, cast(null as varchar),
       cast(null as varchar), cast(null as varchar), cast(null as varchar), cast(null as varchar),
       cast(null as varchar), cast(null as varchar), cast(null as varchar), p.school_id, cast(null as varchar),
       c.status, c.updated_at
from {{ ref('stg_classlink__students') }} c
left join ps_link l on l.district_id = c.district_id and l.student_key = c.student_key and l.n = 1
left join {{ ref('stg_powerschool__students') }} p
    on p.district_id = l.district_id and p.student_number = l.student_number
