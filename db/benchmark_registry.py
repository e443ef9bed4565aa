"""The canonical benchmark registry: one name per (task, shots) across every source we import.

Why: Pythia's ``winogrande@5shot/acc`` and the Open LLM Leaderboard's ``Winogrande/score`` are
the same measurement; without one name, cross-source analyses (densing, agreement) silently see
two benchmarks. The registry is data (``db/benchmarks.yaml``); importers map their names through
:meth:`Registry.map_observations` and list the names that matched nothing. Predictors only ever
see canonical names (DESIGN.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

#: Sources the registry knows; each importer maps its rows under one of these.
SOURCES = (
    "lm_eval",
    "pythia",
    "sloth",
    "openllm_v1",
    "openllm_v2",
    "epoch",
    "benchbench",
    "gadre",
)
UNKNOWN_SHOTS = "unknown"
_SHOT_SUFFIX = re.compile(r"^(?P<task>.+)@(?P<k>\d+|unknown)shot$")


def canonical_name(task: str, shots: int | str | None) -> str:
    """``winogrande``, 5 -> ``winogrande@5shot``; 0 keeps the task; unknown -> ``@unknownshot``."""
    if shots is None or shots == UNKNOWN_SHOTS:
        return f"{task}@{UNKNOWN_SHOTS}shot"
    return task if int(shots) == 0 else f"{task}@{int(shots)}shot"


def parse_shots(value: Any) -> int | str:
    """A source's shot count (``5``, ``"5"``, ``""``, ``"few"``) as an int or ``"unknown"``."""
    if isinstance(value, bool):
        return UNKNOWN_SHOTS
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return int(value) if np.isfinite(value) and float(value).is_integer() else UNKNOWN_SHOTS
    text = str(value).strip()
    return int(text) if text.isdigit() else UNKNOWN_SHOTS


@dataclass(frozen=True)
class TaskSpec:
    """One task: what it measures and how a score on it reads."""

    task: str
    kind: str
    prompt_format: str
    metric: str
    higher_is_better: bool
    chance: float | None
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    fixed: tuple[FixedAlias, ...] = ()


@dataclass(frozen=True)
class FixedAlias:
    """A source name that implies one shot count and, possibly, another metric name and scale."""

    source: str
    name: str
    shots: int
    metric_from: str | None = None
    metric: str | None = None
    scale: float = 1.0


@dataclass(frozen=True)
class Resolved:
    """Where one (source, name, metric) lands: canonical name, metric, factor on the value."""

    benchmark: str
    metric: str
    scale: float
    spec: TaskSpec
    shots: int | str


@dataclass(frozen=True)
class _Pattern:
    source: str
    regex: re.Pattern[str]
    template: str
    named: re.Pattern[str]  # the canonical task names the template makes
    shots: int | None
    metric_from: str | None
    metric: str | None
    spec: dict[str, Any]


class Registry:
    """Canonical tasks and their aliases; resolves source names (see ``db/benchmarks.yaml``)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.tasks: dict[str, TaskSpec] = {}
        self._fixed: dict[tuple[str, str], tuple[FixedAlias, TaskSpec]] = {}
        self._alias: dict[tuple[str, str], TaskSpec] = {}
        for t in data.get("tasks", []):
            spec = _task_spec(t)
            if spec.task in self.tasks:
                raise ValueError(f"benchmark registry: task {spec.task!r} listed twice")
            self.tasks[spec.task] = spec
            for source, names in spec.aliases.items():
                for name in names:
                    self._add(self._alias, (source, name), spec)
            for fa in spec.fixed:
                self._add(self._fixed, (fa.source, fa.name), (fa, spec))
        self._patterns = [_pattern(p) for p in data.get("patterns", [])]

    @staticmethod
    def _add(table: dict[tuple[str, str], Any], key: tuple[str, str], value: Any) -> None:
        if key[0] not in SOURCES:
            raise ValueError(f"benchmark registry: unknown source {key[0]!r}")
        if key in table:
            raise ValueError(f"benchmark registry: alias {key} listed twice")
        table[key] = value

    def resolve(
        self, source: str, name: str, metric: str, shots: int | str | None = None
    ) -> Resolved | None:
        """The canonical (benchmark, metric, scale) of a source's name, or None if none matches.

        ``shots`` is the row's shot count where the source gives one per row (Epoch); a name
        ending in ``@<k>shot`` (lm-eval, Pythia) carries its own.
        """
        hit = self._fixed.get((source, name))
        if hit is not None:
            fa, spec = hit
            new_metric = fa.metric if fa.metric and fa.metric_from in (None, metric) else metric
            scale = fa.scale if fa.metric_from in (None, metric) else 1.0
            return Resolved(canonical_name(spec.task, fa.shots), new_metric, scale, spec, fa.shots)
        base, k = name, (None if shots is None else parse_shots(shots))
        m = _SHOT_SUFFIX.match(name)
        if m:
            base, k = m.group("task"), parse_shots(m.group("k"))
        spec_hit = self._alias.get((source, base))
        if spec_hit is not None:
            k = _default_shots(source, k)
            return Resolved(canonical_name(spec_hit.task, k), metric, 1.0, spec_hit, k)
        for p in self._patterns:
            pm = p.regex.match(base) if p.source == source else None
            if pm is None:
                continue
            spec = TaskSpec(task=p.template.format(*pm.groups()), **p.spec)
            k = p.shots if p.shots is not None else _default_shots(source, k)
            new_metric = p.metric if p.metric and p.metric_from in (None, metric) else metric
            return Resolved(canonical_name(spec.task, k), new_metric, 1.0, spec, k)
        return None

    def spec_of(self, benchmark: str) -> TaskSpec | None:
        """The task behind a canonical benchmark name (``winogrande@5shot`` -> winogrande)."""
        m = _SHOT_SUFFIX.match(benchmark)
        return self.tasks.get(m.group("task") if m else benchmark)

    def variants(self, name: str, available: set[str]) -> list[str]:
        """Canonical names in ``available`` that are shot variants of the task ``name``."""
        spec = self.spec_of(name)
        task = spec.task if spec else name
        out = [b for b in available if b == task or b.startswith(task + "@")]
        return sorted(out, key=lambda b: (b != task, b))

    def map_observations(
        self, df: pd.DataFrame, source: str | pd.Series, *, shots: pd.Series | None = None
    ) -> tuple[pd.DataFrame, list[str]]:
        """Canonical benchmark and metric names (values rescaled where an alias says so).

        ``source`` is a registry source, or a Series of them per row. Names that match nothing
        are kept as they are and returned, sorted, for the import report.
        """
        if df.empty:
            return df, []
        src = (
            source.to_numpy()
            if isinstance(source, pd.Series)
            else np.full(len(df), source, dtype=object)
        )
        k = shots.to_numpy() if shots is not None else np.full(len(df), None, dtype=object)
        keys = pd.DataFrame(
            {"s": src, "b": df["benchmark"].to_numpy(), "m": df["metric"].to_numpy(), "k": k}
        )
        keys["k"] = [None if v is None else parse_shots(v) for v in keys["k"]]
        uniq = keys.astype({"k": object}).drop_duplicates()
        table: dict[tuple[Any, ...], Resolved | None] = {}
        for s, b, m, kk in uniq.itertuples(index=False):
            table[(s, b, m, kk)] = self.resolve(str(s), str(b), str(m), kk)
        hits = [table[t] for t in keys.itertuples(index=False, name=None)]
        out = df.copy()
        out["benchmark"] = [h.benchmark if h else b for h, b in zip(hits, keys["b"], strict=True)]
        out["metric"] = [h.metric if h else m for h, m in zip(hits, keys["m"], strict=True)]
        scale = np.array([h.scale if h else 1.0 for h in hits])
        if (scale != 1.0).any():
            out["value"] = out["value"].astype(float) * scale
        unmatched = sorted({f"{s}:{b}" for (s, b, _m, _k), h in table.items() if h is None})
        return out, unmatched

    def benchmark_attrs(self, names: set[str] | list[str]) -> dict[str, dict[str, Any]]:
        """Loader attributes (kind, chance, direction, extra) of the canonical names given."""
        out: dict[str, dict[str, Any]] = {}
        for name in names:
            spec = self.spec_of(name) or self._pattern_spec(name)
            if spec is None:
                continue
            m = _SHOT_SUFFIX.match(name)
            shots: int | str = parse_shots(m.group("k")) if m else 0
            out[name] = {
                "kind": spec.kind,
                "chance": spec.chance,
                "higher_is_better": spec.higher_is_better,
                "extra": {
                    "task": spec.task,
                    "shots": shots,
                    "metric": spec.metric,
                    "prompt_format": spec.prompt_format,
                    "registry": True,
                },
            }
        return out

    def _pattern_spec(self, name: str) -> TaskSpec | None:
        m = _SHOT_SUFFIX.match(name)
        base = m.group("task") if m else name
        for p in self._patterns:
            if p.named.match(base):
                return TaskSpec(task=base, **p.spec)
        return None

    def listing(self) -> list[dict[str, Any]]:
        """Every task with its aliases, for ``capcast benchmarks``."""
        rows = []
        for spec in self.tasks.values():
            aliases = {s: list(n) for s, n in spec.aliases.items()}
            for fa in spec.fixed:
                aliases.setdefault(fa.source, []).append(
                    f"{fa.name} -> {canonical_name(spec.task, fa.shots)}"
                    + (f" ({fa.metric_from} -> {fa.metric})" if fa.metric else "")
                    + (f" x{fa.scale:g}" if fa.scale != 1.0 else "")
                )
            rows.append(
                {
                    "task": spec.task,
                    "kind": spec.kind,
                    "metric": spec.metric,
                    "higher_is_better": spec.higher_is_better,
                    "chance": spec.chance,
                    "prompt_format": spec.prompt_format,
                    "aliases": aliases,
                }
            )
        for p in self._patterns:
            rows.append(
                {
                    "task": p.template.replace("{0}", "<subject>"),
                    "kind": p.spec["kind"],
                    "metric": p.metric or "(as the source)",
                    "higher_is_better": True,
                    "chance": p.spec["chance"],
                    "prompt_format": p.spec["prompt_format"],
                    "aliases": {p.source: [p.regex.pattern]},
                }
            )
        return rows


def _default_shots(source: str, k: int | str | None) -> int | str:
    """A row without a shot count: lm-eval/Pythia names without ``@kshot`` are zero-shot;
    Epoch and BenchBench rows without one are unknown."""
    if k is not None:
        return k
    return 0 if source in ("lm_eval", "pythia", "gadre") else UNKNOWN_SHOTS


def _task_spec(t: dict[str, Any]) -> TaskSpec:
    fixed = tuple(
        FixedAlias(
            source=str(f["source"]),
            name=str(f["name"]),
            shots=int(f["shots"]),
            metric_from=f.get("from"),
            metric=f.get("metric"),
            scale=float(f.get("scale", 1.0)),
        )
        for f in t.get("fixed", [])
    )
    return TaskSpec(
        task=str(t["task"]),
        kind=str(t["kind"]),
        prompt_format=str(t["prompt_format"]),
        metric=str(t["metric"]),
        higher_is_better=bool(t["higher_is_better"]),
        chance=None if t.get("chance") is None else float(t["chance"]),
        aliases={str(s): tuple(str(n) for n in names) for s, names in t.get("aliases", {}).items()},
        fixed=fixed,
    )


def _pattern(p: dict[str, Any]) -> _Pattern:
    if p["source"] not in SOURCES:
        raise ValueError(f"benchmark registry: unknown source {p['source']!r}")
    return _Pattern(
        source=str(p["source"]),
        regex=re.compile(str(p["regex"])),
        template=str(p["task"]),
        named=re.compile("^" + re.escape(str(p["task"])).replace(r"\{0\}", "(.+)") + "$"),
        shots=None if p.get("shots") is None else int(p["shots"]),
        metric_from=p.get("from"),
        metric=p.get("metric"),
        spec={
            "kind": str(p["kind"]),
            "prompt_format": str(p["prompt_format"]),
            "metric": str(p.get("metric") or "acc"),
            "higher_is_better": True,
            "chance": None if p.get("chance") is None else float(p["chance"]),
        },
    )


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The packaged registry (``db/benchmarks.yaml``), parsed once."""
    text = resources.files("db").joinpath("benchmarks.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError("db/benchmarks.yaml: expected a mapping with 'tasks' and 'patterns'")
    return Registry(data)


def pick_variants(
    obs: pd.DataFrame,
    *,
    reference_family: str,
    benchmark: str,
    metric: str,
    loss_benchmark: str,
    loss_metric: str,
    size_column: str = "n_params",
) -> tuple[str, str, list[str]]:
    """Shot variants for a cross-source analysis asked by task (``winogrande``), not by name.

    The score variant is the one the reference family has with the most other models that carry
    a size and a release date (the densing targets); the loss variant is the reference family's
    one with the same shot count, else the name as given. A name that is itself stored with
    targets is kept. Returns (benchmark, loss_benchmark, notes saying what was chosen).
    """
    notes: list[str] = []
    ref = obs[obs["family"] == reference_family]
    ref_names = set(ref["benchmark"].astype(str))
    other = obs[(obs["family"] != reference_family) & (obs["metric"] == metric)]
    other = other[other["release_date"].notna() & other[size_column].notna()]
    counts = other.groupby("benchmark")["model"].nunique()
    reg = registry()
    cands = [b for b in reg.variants(benchmark, ref_names) if counts.get(b, 0) > 0]
    chosen = benchmark
    if cands and counts.get(benchmark, 0) < max(int(counts[b]) for b in cands):
        chosen = max(cands, key=lambda b: (int(counts[b]), b == benchmark))
        notes.append(
            f"--benchmark {benchmark}: using {chosen} ({int(counts[chosen])} dated, sized models "
            f"outside {reference_family}; variants with the reference family: "
            + ", ".join(f"{b} ({int(counts[b])})" for b in cands)
            + ")"
        )
    m = _SHOT_SUFFIX.match(chosen)
    spec_loss = reg.spec_of(loss_benchmark)
    loss_task = spec_loss.task if spec_loss else loss_benchmark
    if m and not _SHOT_SUFFIX.match(loss_benchmark):
        same = f"{loss_task}@{m.group('k')}shot"
        has = ref[(ref["benchmark"] == same) & (ref["metric"] == loss_metric)]
        if not has.empty:
            notes.append(
                f"--loss-benchmark {loss_benchmark}: using {same} (same shots as the score)"
            )
            return chosen, same, notes
    return chosen, loss_benchmark, notes


#: Metrics whose values are fractions of items (0..1 after the registry's scaling): a perfect
#: model scores 1. Losses, perplexities and ratings (``elo``) are not bounded this way.
BOUNDED_METRICS = frozenset(
    {"acc", "acc_norm", "exact_match", "mc1", "mc2", "pass_rate", "pass@1", "score"}
)


def score_ceiling(benchmark: str, metric: str) -> float | None:
    """The best score a model can reach on a canonical benchmark, or None where it is not known.

    Why: the densing law inverts a reference family's score-vs-loss sigmoid, and a fitted upper
    asymptote sits just above that family's best model, so every stronger model is "not
    invertible". For a bounded accuracy (a registry task, higher is better, a metric in
    :data:`BOUNDED_METRICS`, not a leaderboard aggregate) the ceiling is 1.0: the perfect score
    approached as the loss goes to zero. Anything else (unknown names, losses, Elo, MT-Bench's
    1-10) gets None, and the curve fits its own asymptote.

    >>> score_ceiling("winogrande@5shot", "acc"), score_ceiling("mmlu_anatomy@5shot", "acc")
    (1.0, 1.0)
    >>> score_ceiling("arena_elo", "elo"), score_ceiling("lambada_openai", "ppl")
    (None, None)
    """
    spec = task_of(benchmark)
    if spec is None or not spec.higher_is_better or spec.kind == "leaderboard":
        return None
    return 1.0 if metric in BOUNDED_METRICS else None


def task_of(benchmark: str) -> TaskSpec | None:
    """The task behind a canonical name, named tasks and pattern families (``mmlu_*``) alike."""
    reg = registry()
    return reg.spec_of(benchmark) or reg._pattern_spec(benchmark)
