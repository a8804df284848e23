-- Per integration per day since its first file: delivered or not, files, rows staged, rejected rows, gate result.
-- Every feed: rows come from the ledger (ops.deliveries.row_count). Refreshes after any feed's import:
-- depends_on: {{ source('hub_core', 'students') }} {{ source('focus_roster', 'focus_roster__students') }}
-- depends_on: {{ source('peer', 'student_fields') }} {{ source('classlink', 'classlink_users') }}
-- depends_on: {{ source('powerschool', 'ps_students') }} {{ source('renaissance_star', 'star_assessments') }}
-- depends_on: {{ source('edreflect', 'legacy_ids') }}
with deliveries as (  -- files to import, with what their status means for the day (hub/store/statuses.py HEALTH)
    select d.*, s.health,
           case when s.health in ('passed', 'pending') then coalesce(d.row_count, 0) else 0 end as staged_rows,
           coalesce(e.rejected_rows, 0) as rejected_rows
    from {{ ref('stg_hub__deliveries') }} d
    join {{ source('hub_ops', 'delivery_statuses') }} s on s.status = d.status
    left join {{ ref('stg_hub__delivery_errors') }} e on e.delivery_id = d.delivery_id
    where s.health is not null  -- a duplicate, a skipped file or an unpacked zip is not a file to import
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
           sum(case when health = 'blocked' then 1 else 0 end) as rejected_files,
           sum(case when health = 'failed' then 1 else 0 end) as failed_files,
           sum(case when health = 'pending' then 1 else 0 end) as pending_files
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
        when p.failed_files > 0 then 'failed'
        when p.pending_files > 0 then 'pending'
        else 'passed'
    end as gate_result
from days d
left join per_day p on p.integration_id = d.integration_id and p.delivery_date = d.day
