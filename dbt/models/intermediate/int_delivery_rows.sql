-- Staged rows per delivery over every feed listed in var delivery_row_feeds.
select delivery_id, sum(staged_rows) as staged_rows
from (
{% for feed in var('delivery_row_feeds') %}
    select delivery_id, staged_rows from {{ ref('stg_' ~ feed ~ '__delivery_rows') }}
    {% if not loop.last %}union all{% endif %}
{% endfor %}
) r
group by delivery_id
