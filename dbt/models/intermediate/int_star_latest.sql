-- The latest Star score per student and subject (empty until var star_scores_model names a staging model).
with scores as (
    {{ optional_ref('star_scores_model', {'district_id': 'varchar', 'state_student_id': 'varchar',
                                          'subject': 'varchar', 'scale_score': 'integer', 'tested_on': 'date'}) }}
),
ranked as (
    select scores.*, row_number() over (
        partition by district_id, state_student_id, subject order by tested_on desc) as n
    from scores
)
select district_id, state_student_id, subject, scale_score, tested_on from ranked where n = 1
