-- The latest Star score per student and subject (students linked through the identity chain).
with ranked as (
    select district_id, student_key, subject, scale_score, tested_on,
           row_number() over (partition by district_id, student_key, subject
                              order by completed_at desc nulls last) as n
    from {{ ref('stg_renaissance_star__scores') }}
)
select district_id, student_key, subject, scale_score, tested_on from ranked where n = 1
