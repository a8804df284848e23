-- The hub's students of districts identified through ClassLink (key: keyed hash of district and ClassLink sourcedId).
select district_id, hub_student_key as student_key, status, updated_at
from {{ source('classlink', 'classlink_users') }}
