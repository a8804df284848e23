select
    delivery_id,
    integration_id,
    district_id,
    feed,
    file_type,
    file_name,
    status,
    row_count,
    cast(partition_date as date) as delivery_date,
    mtime as file_modified_at,
    discovered_at
from {{ source('hub_ops', 'deliveries') }}
