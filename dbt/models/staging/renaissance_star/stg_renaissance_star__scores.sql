select district_id, hub_student_key as student_key, subject, scaled_score as scale_score, completed_at,
       cast(completed_at as date) as tested_on
from {{ source('renaissance_star', 'star_assessments') }}
