-- When each student last arrived in an applied Focus students file.
select d.district_id, s.state_student_id, max(d.file_modified_at) as updated_at
from {{ source('focus_roster', 'focus_roster__students') }} s
join {{ ref('stg_hub__deliveries') }} d on d.delivery_id = s.delivery_id
where d.status = 'applied'
group by d.district_id, s.state_student_id
