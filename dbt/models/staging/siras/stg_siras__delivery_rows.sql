-- Rows staged per SIRAS delivery (both file types).
select delivery_id, count(*) as staged_rows from {{ source('siras', 'siras__demographics') }} group by delivery_id
union all
select delivery_id, count(*) as staged_rows from {{ source('siras', 'siras__demographics_504') }} group by delivery_id
