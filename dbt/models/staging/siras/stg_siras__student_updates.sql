-- When each student last arrived in an applied SIRAS delivery (an integration with stage_changes_only: true stages
-- only changed or new rows, hub/load/changes.py: then when the student last arrived changed or new).
with rows as (
    select delivery_id, ssid from {{ source('siras', 'siras__demographics') }}
    union all
    select delivery_id, ssid from {{ source('siras', 'siras__demographics_504') }}
)
select d.district_id, r.ssid as state_student_id, max(d.file_modified_at) as updated_at
from rows r
join {{ ref('stg_hub__deliveries') }} d on d.delivery_id = r.delivery_id
where d.status = 'applied'
group by d.district_id, r.ssid
