select district_id, student_number, school_id, grade_level, enroll_status
from {{ source('powerschool', 'ps_students') }}
