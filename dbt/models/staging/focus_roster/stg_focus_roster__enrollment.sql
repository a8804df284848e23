-- Each student's current enrollment in the district's newest applied Focus enrollment file (end date blank or not
-- passed, the latest start winning): the roster's own rule (feeds/focus_roster/rules.py), kept as delivered.
with files as (
    select delivery_id, district_id,
           row_number() over (partition by district_id order by file_modified_at desc) as n
    from {{ ref('stg_hub__deliveries') }}
    where feed = 'focus_roster' and file_type = 'enrollment' and status = 'applied'
),
current_rows as (
    select f.district_id, e.local_student_id, e.school_code, e.grade, cast(e.start_date as date) as start_date,
           e.enrollment_code,
           row_number() over (partition by f.district_id, e.local_student_id
                              order by cast(e.start_date as date) desc, e.source_row desc) as k
    from {{ source('focus_roster', 'focus_roster__enrollment') }} e
    join files f on f.delivery_id = e.delivery_id and f.n = 1
    where cast(e.start_date as date) <= current_date
      and (e.end_date is null or cast(e.end_date as date) >= current_date)
)
select district_id, local_student_id, school_code as enrollment_school_code, grade as enrollment_grade,
       start_date as enrolled_since, enrollment_code
from current_rows
where k = 1
