-- Last update of each student per source feed (the feeds listed in var student_update_feeds).
{% for feed in var('student_update_feeds') %}
select district_id, state_student_id, '{{ feed }}' as source_feed, updated_at
from {{ ref('stg_' ~ feed ~ '__student_updates') }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
