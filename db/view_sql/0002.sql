-- Views for analysts. Each statement is separated by a line holding only ";;".
-- observations: every measurement in capcast's exchange format (DESIGN.md, "Observations").
-- flops scales with the tokens seen at the measured checkpoint when they differ from the model's.
CREATE VIEW observations AS
SELECT
    mo.name AS model,
    f.name AS family,
    mo.n_params,
    mo.n_params_nonembed,
    COALESCE(me.n_tokens, mo.n_tokens) AS n_tokens,
    CASE
        WHEN mo.flops IS NOT NULL AND me.n_tokens IS NOT NULL AND mo.n_tokens > 0
            THEN mo.flops * me.n_tokens / mo.n_tokens
        WHEN mo.flops IS NULL AND mo.n_params IS NOT NULL AND COALESCE(me.n_tokens, mo.n_tokens) IS NOT NULL
            THEN 6.0 * mo.n_params * COALESCE(me.n_tokens, mo.n_tokens)
        ELSE mo.flops
    END AS flops,
    mo.release_date,
    COALESCE(me.checkpoint_step, mo.checkpoint_step) AS checkpoint_step,
    b.name AS benchmark,
    me.metric,
    me.value,
    me.stderr,
    me.source
FROM measurement me
JOIN model mo ON mo.id = me.model_id
JOIN benchmark b ON b.id = me.benchmark_id
LEFT JOIN model_family f ON f.id = mo.family_id
;;
-- model_scores: one row per model, benchmark, metric and source at the model's final checkpoint,
-- with size and compute: the table most analyses start from.
CREATE VIEW model_scores AS
SELECT o.*
FROM observations o
WHERE o.checkpoint_step IS NULL
   OR o.checkpoint_step = (
        SELECT MAX(COALESCE(me2.checkpoint_step, -1))
        FROM measurement me2
        JOIN model mo2 ON mo2.id = me2.model_id
        JOIN benchmark b2 ON b2.id = me2.benchmark_id
        WHERE mo2.name = o.model AND b2.name = o.benchmark
          AND me2.metric = o.metric AND me2.source = o.source
   )
;;
-- eval_runs: every evaluation run with its model's size and the compute it was evaluated at. A run
-- of a checkpoint (eval_run.checkpoint_step/n_tokens set) gets that checkpoint's step, tokens and
-- FLOPs (the model's FLOPs scaled by tokens seen), so one model row can hold a ladder size's
-- several checkpoints.
CREATE VIEW eval_runs AS
SELECT
    r.id AS run_id,
    f.name AS family,
    mo.name AS model,
    mo.n_params,
    mo.n_params_nonembed,
    COALESCE(r.n_tokens, mo.n_tokens) AS n_tokens,
    CASE
        WHEN mo.flops IS NOT NULL AND r.n_tokens IS NOT NULL AND mo.n_tokens > 0
            THEN mo.flops * r.n_tokens / mo.n_tokens
        WHEN mo.flops IS NULL AND mo.n_params IS NOT NULL AND COALESCE(r.n_tokens, mo.n_tokens) IS NOT NULL
            THEN 6.0 * mo.n_params * COALESCE(r.n_tokens, mo.n_tokens)
        ELSE mo.flops
    END AS flops,
    COALESCE(r.checkpoint_step, mo.checkpoint_step) AS checkpoint_step,
    b.name AS benchmark,
    r.mode,
    r.engine,
    r.engine_version,
    r.status,
    r.finished_at
FROM eval_run r
JOIN benchmark b ON b.id = r.benchmark_id
JOIN model mo ON mo.id = r.model_id
LEFT JOIN model_family f ON f.id = mo.family_id
;;
-- item_results: per-item outcomes across a family, with model size and compute (per checkpoint,
-- from eval_runs).
CREATE VIEW item_results AS
SELECT
    er.family,
    er.model,
    er.n_params,
    er.n_params_nonembed,
    er.n_tokens,
    er.flops,
    er.checkpoint_step,
    er.benchmark,
    i.key AS item,
    er.run_id,
    er.mode,
    er.engine,
    ir.n_samples,
    ir.n_pass,
    CASE WHEN ir.n_samples > 0 THEN CAST(ir.n_pass AS FLOAT) / ir.n_samples END AS pass_rate,
    ir.stop_reason,
    ir.greedy_correct,
    ir.estimate
FROM item_result ir
JOIN eval_runs er ON er.run_id = ir.run_id
JOIN item i ON i.id = ir.item_id
;;
-- choice_scores: per-choice log-probabilities with model size and compute (per checkpoint, from
-- eval_runs), for per-choice metric analysis.
CREATE VIEW choice_scores AS
SELECT
    er.family,
    er.model,
    er.n_params,
    er.n_tokens,
    er.flops,
    er.checkpoint_step,
    er.benchmark,
    i.key AS item,
    er.run_id,
    cs.choice_index,
    cs.logprob_sum,
    cs.n_tokens AS choice_tokens,
    cs.n_bytes,
    cs.n_chars,
    cs.is_greedy,
    cs.is_correct
FROM choice_score cs
JOIN eval_runs er ON er.run_id = cs.run_id
JOIN item i ON i.id = cs.item_id
