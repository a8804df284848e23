-- The systems each hub student is linked in (crosswalk), e.g. 'classlink,powerschool,renaissance'.
select district_id, student_key, string_agg(system, ',' order by system) as linked_systems
from (select distinct district_id, student_key, system from {{ ref('stg_identity__crosswalk') }}) x
group by district_id, student_key
