"""Per-choice log-likelihoods from the vLLM engine (CPU, float32) against two references on the
tiny model: a float32 transformers forward pass, and lm-evaluation-harness's own loglikelihood
(its HF backend, through ``lm_eval.simple_evaluate``) on the same task YAML. One vLLM engine for
the whole file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from db import migrate
from db import results as R
from db.session import make_engine, session_factory
from evals.engines import ChoiceRequest
from evals.engines.base import encode_pair
from evals.runner import run_eval
from evals.tasks import load_task
from evals.testing import build_tiny_model

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "evals" / "example_tasks"
TOL = 1e-4


@pytest.fixture(scope="module")
def model() -> Path:
    return build_tiny_model()


@pytest.fixture(scope="module")
def vllm_engine(model: Path):
    from evals.engines.vllm_engine import VllmEngine

    eng = VllmEngine(model, max_model_len=512, kv_cache_memory_bytes=64 << 20)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def hf_engine(model: Path):
    from evals.engines.hf_engine import HfEngine

    return HfEngine(model)


@pytest.fixture(scope="module")
def task_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped MC YAML with an absolute data path (lm-eval resolves paths from the cwd)."""
    d = tmp_path_factory.mktemp("task")
    text = (EXAMPLES / "mc_facts.yaml").read_text()
    text = text.replace("mc_facts_data.jsonl", str(EXAMPLES / "mc_facts_data.jsonl"))
    (d / "mc_facts.yaml").write_text(text)
    return d / "mc_facts.yaml"


@pytest.fixture(scope="module")
def lm_eval_samples(model: Path, task_yaml: Path) -> dict[str, dict]:
    import lm_eval
    from lm_eval.tasks import TaskManager

    out = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={model},dtype=float32,device=cpu",
        tasks=["capcast_mc_facts_lm_eval"],
        task_manager=TaskManager(include_path=str(task_yaml.parent)),
        log_samples=True,
        batch_size=4,
        num_fewshot=0,
    )
    samples = out["samples"]["capcast_mc_facts_lm_eval"]
    return {s["doc_hash"]: s for s in samples}


TRICKY = [
    # shared prefix, multi-token choices of different lengths
    ChoiceRequest("Question: What is 12 + 30?\nAnswer:", (" 42", " 4 2", " forty two", " the")),
    # context with trailing space: the space moves onto the continuation (lm-eval's rule)
    ChoiceRequest("Pick a colour: ", ("red", "green blue", "fish")),
    # no space between context and choice, punctuation, non-ASCII
    ChoiceRequest("def f(x):\n    return", (" x * 2", "(x)", " naïve café")),
    # single-token choices after the same context: vLLM's one-request fast path
    ChoiceRequest("Question: What is 2 + 3?\nAnswer:", (" 5", " 6", " 7", " 8")),
]


def test_vllm_choice_scores_match_hf_float32(vllm_engine, hf_engine) -> None:
    task = load_task(EXAMPLES / "mc_facts.jsonl")
    reqs = [ChoiceRequest(it.prompt, tuple(" " + c for c in it.choices)) for it in task.items]
    reqs += TRICKY
    before = dict(vllm_engine.stats)
    got = vllm_engine.score_choices(reqs)
    want = hf_engine.score_choices(reqs)
    assert len(got) == len(want) == len(reqs)
    worst = 0.0
    for g, w in zip(got, want, strict=True):
        assert g.n_tokens == w.n_tokens
        assert g.is_greedy == w.is_greedy
        for a, b in zip(g.logprob_sum, w.logprob_sum, strict=True):
            worst = max(worst, abs(a - b))
    assert worst < TOL, f"max |vLLM - HF| = {worst}"
    # multi-token choices were really scored (sums of several tokens, not one)
    assert max(max(s.n_tokens) for s in got) >= 3
    # the single-token item went through the one-request fast path
    assert vllm_engine.stats["fast_path_items"] - before["fast_path_items"] >= 1
    fast = got[-1]
    assert fast.n_tokens == (1, 1, 1, 1)


def test_vllm_scores_are_stable_with_prefix_cache(vllm_engine) -> None:
    """Scoring the same items twice (second time their prefixes are cached) gives the same sums."""
    first = vllm_engine.score_choices(TRICKY)
    second = vllm_engine.score_choices(TRICKY + TRICKY)
    for a, b in zip(first + first, second, strict=True):
        assert a.n_tokens == b.n_tokens
        assert max(abs(x - y) for x, y in zip(a.logprob_sum, b.logprob_sum, strict=True)) < 1e-5


def test_encode_pair_agrees_with_lm_eval_split(model: Path) -> None:
    """Offsets-based continuation tokens equal lm-eval's whole[len(enc(context)):] split."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    for req in TRICKY:
        for choice in req.choices:
            pair = encode_pair(tok, req.context, choice)
            ctx = req.context.rstrip()
            cont = req.context[len(ctx) :] + choice
            whole = tok(ctx + cont)["input_ids"]
            assert list(pair.cont_ids) == whole[len(tok(ctx)["input_ids"]) :]


@pytest.mark.parametrize(
    "db_backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_vllm_choices_run_matches_lm_eval(
    db_backend: str, vllm_engine, task_yaml: Path, lm_eval_samples: dict, request, tmp_path: Path
) -> None:
    if db_backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'c.sqlite'}"
        migrate.upgrade(url)
        cleanup = None
    else:
        from tests.conftest import _drop_pg_database, _new_pg_database

        name, url = _new_pg_database()
        migrate.upgrade(url)
        cleanup = name
    engine = make_engine(url)
    try:
        res = run_eval(
            session_factory=session_factory(engine),
            model_path=str(build_tiny_model()),
            task_path=task_yaml,
            mode="choices",
            engine=vllm_engine,
        )
        assert res.n_items == len(lm_eval_samples) == 16
        with session_factory(engine)() as s:
            rows = R.run_results(s, res.run_id)
            scores = R.run_choice_scores(s, res.run_id)
        keys = {item.key for item, _ in rows}
        assert keys == set(lm_eval_samples), "item keys must be lm-eval doc hashes"
        worst = 0.0
        for item, result in rows:
            ref = lm_eval_samples[item.key]
            ref_ll = [r[0][0] for r in ref["resps"]]
            ref_greedy = [r[0][1] for r in ref["resps"]]
            ours = scores[item.id]
            assert [c.is_greedy for c in ours] == ref_greedy
            for c, ll in zip(ours, ref_ll, strict=True):
                worst = max(worst, abs(c.logprob_sum - ll))
            assert result.estimates["acc"] == ref["acc"], item.key
            assert result.estimates["acc_norm"] == ref["acc_norm"], item.key
            assert [c.n_chars for c in ours] == [
                len(c) for c in json.loads(json.dumps(item.choices))
            ]
        assert worst < TOL, f"max |capcast vLLM - lm-eval| = {worst}"
        ref_acc = sum(s["acc"] for s in lm_eval_samples.values()) / 16
        ref_norm = sum(s["acc_norm"] for s in lm_eval_samples.values()) / 16
        assert res.metrics["acc"] == pytest.approx(ref_acc, abs=0)
        assert res.metrics["acc_norm"] == pytest.approx(ref_norm, abs=0)
        # a second call resumes: nothing re-scored, same metrics
        again = run_eval(
            session_factory=session_factory(engine),
            model_path=str(build_tiny_model()),
            task_path=task_yaml,
            mode="choices",
            engine=vllm_engine,
        )
        assert (again.run_id, again.n_new, again.n_reused) == (res.run_id, 0, 16)
        assert again.metrics == res.metrics
    finally:
        engine.dispose()
        if cleanup:
            _drop_pg_database(cleanup)
