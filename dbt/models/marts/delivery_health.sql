-- Per integration per day since its first file: delivered or not, files, rows, rejected rows, gate result.
with deliveries as (
    select d.*, coalesce(r.staged_rows, 0) as staged_rows, coalesce(e.rejected_rows, 0) as rejected_rows
    from {{ ref('stg_hub__deliveries') }} d
    left join {{ ref('int_delivery_rows') }} r on r.delivery_id = d.delivery_id
    left join {{ ref('stg_hub__delivery_errors') }} e on e.delivery_id = d.delivery_id
    where d.status in ('queued', 'staged', 'rejected', 'applied')
),
bounds as (
    select integration_id, min(district_id) as district_id, min(feed) as feed,
           min(delivery_date) as first_day, greatest(max(delivery_date), current_date) as last_day
    from {{ ref('stg_hub__deliveries') }}
    group by integration_id
),
days as (
    select b.integration_id, b.district_id, b.feed, cast(g.day as date) as day
    from bounds b
    cross join lateral generate_series(cast(b.first_day as timestamp), cast(b.last_day as timestamp),
                                       interval '1 day') as g(day)
),
per_day as (
    select integration_id, delivery_date,
           count(*) as files,
           sum(staged_rows) as staged_rows,
           sum(rejected_rows) as rejected_rows,
           sum(case when status = 'rejected' then 1 else 0 end) as rejected_files,
           sum(case when status = 'queued' then 1 else 0 end) as queued_files
    from deliveries
    group by integration_id, delivery_date
)
select
    d.integration_id,
    d.district_id,
    d.feed,
    d.day,
    p.files is not null as delivered,
    coalesce(p.files, 0) as files,
    coalesce(p.staged_rows, 0) as staged_rows,
    coalesce(p.rejected_rows, 0) as rejected_rows,
    case
        when p.files is null then 'no file'
        when p.rejected_files > 0 then 'blocked'
        when p.queued_files > 0 then 'pending'
        else 'passed'
    end as gate_result
from days d
left join per_day p on p.integration_id = d.integration_id and p.delivery_date = d.day
