select district_id, system, system_id, hub_student_key as student_key, match_method
from {{ source('identity', 'student_crosswalk') }}
