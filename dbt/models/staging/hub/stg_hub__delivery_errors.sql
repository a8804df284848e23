-- Rejected rows per delivery (distinct file rows with a row error; row 0 = the file as a whole).
select delivery_id, count(distinct row_number) as rejected_rows
from {{ source('hub_ops', 'row_errors') }}
group by delivery_id
