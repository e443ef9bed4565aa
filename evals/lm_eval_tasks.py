"""lm-evaluation-harness's own tasks, found by its ``TaskManager`` and run on capcast's engines.

Every lm-eval task config (``include:``, ``!function``, groups, tags, filters, few-shot samplers)
is read by lm-eval itself, so a task is exactly what ``lm_eval --tasks NAME`` would run: its task
object builds the documents, contexts, choices, targets and few-shot samples (``Instance``
requests), and after capcast's engine answered them, lm-eval's filters and ``process_results``
give the per-item metrics and its aggregation functions the task's numbers. Only the model calls
are capcast's. Item keys are lm-eval's ``doc_hash``.

Data never comes from the network (``HF_DATASETS_OFFLINE=1``): from ``data_dir`` when it holds
the task's dataset, else from the local Hugging Face cache. Under ``data_dir`` a task with
``dataset_path: allenai/ai2_arc`` and ``dataset_name: ARC-Easy`` is looked for as

- ``DATA_DIR/allenai/ai2_arc/ARC-Easy/`` or ``DATA_DIR/allenai/ai2_arc/`` holding one file per
  split, named by the split (``test.jsonl``, ``dev.json``, ``train-00000-of-00001.parquet``,
  ``validation.csv``): loaded with ``dataset_kwargs.data_files``, as lm-eval loads local data;
- else ``DATA_DIR/allenai/ai2_arc/`` as a dataset folder (a snapshot of the hub repository, whose
  README declares its configs): ``dataset_path`` becomes that folder, ``dataset_name`` is kept.

A directory of task YAMLs (``include_path``) may hold ``!function`` Python that lm-eval imports,
so only the command line takes one; jobs name tasks the installed lm-eval package ships.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.tasks import GENERATE, MULTIPLE_CHOICE, Task, TaskError, TaskItem, doc_hash

#: lm-eval output types capcast runs: per-choice scoring, one continuation, or generation.
SCORED = ("multiple_choice", "loglikelihood")
GENERATED = ("generate_until",)
_DATA_SUFFIXES = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
#: Largest number of documents one task may build requests for (a cap on loading work).
MAX_DOCS = 10_000_000


def _offline() -> None:
    """No network for datasets or the hub, whether or not ``datasets`` is imported yet."""
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    import datasets.config

    datasets.config.HF_HUB_OFFLINE = True
    datasets.config.HF_DATASETS_OFFLINE = True


def _split_of(path: Path) -> str:
    """``test.jsonl`` -> test, ``train-00000-of-00001.parquet`` -> train (hub file naming)."""
    return path.name.split(".", 1)[0].split("-", 1)[0]


def split_files(folder: Path) -> tuple[str, dict[str, list[str]]] | None:
    """The datasets builder and ``data_files`` of a folder with one file (or shard) per split."""
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _DATA_SUFFIXES)
    if not files:
        return None
    builders = {_DATA_SUFFIXES[p.suffix] for p in files}
    if len(builders) > 1:
        raise TaskError(f"{folder}: data files of several formats ({', '.join(sorted(builders))})")
    data_files: dict[str, list[str]] = {}
    for p in files:
        data_files.setdefault(_split_of(p), []).append(str(p))
    return builders.pop(), data_files


def local_dataset(cfg: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """A task config whose dataset is read from ``data_dir`` (unchanged when it is not there)."""
    path, name = cfg.get("dataset_path"), cfg.get("dataset_name")
    if not isinstance(path, str) or cfg.get("custom_dataset") is not None:
        return cfg
    root = data_dir / path
    if not root.resolve().is_relative_to(data_dir.resolve()):
        raise TaskError(f"dataset_path {path!r} leaves the data directory {data_dir}")
    for folder in ([root / name] if isinstance(name, str) and name else []) + [root]:
        found = split_files(folder)
        if found is not None:
            builder, files = found
            kwargs = {**(cfg.get("dataset_kwargs") or {}), "data_files": files}
            return cfg | {"dataset_path": builder, "dataset_name": None, "dataset_kwargs": kwargs}
    if root.is_dir():
        return cfg | {"dataset_path": str(root)}
    return cfg


#: Building tasks mutates the manager's registry and the task objects: one build at a time.
_BUILD_LOCK = threading.Lock()


def task_manager(include_path: str | Path | None = None, data_dir: str | Path | None = None) -> Any:
    """lm-eval's ``TaskManager`` (its shipped tasks plus ``include_path``), data from ``data_dir``.

    Indexing lm-eval's ~14,000 task YAMLs takes seconds, so managers are kept (a few, by their
    two paths). The data directory is applied where lm-eval reads a task's full config (after ``include:``
    and ``!function`` are resolved, for tasks inside groups and tags too), by the one hook its
    ``TaskFactory`` offers: a subclass. lm-eval is pinned (pyproject), so the hook is stable.
    """
    return _manager(
        str(Path(include_path).resolve()) if include_path else None,
        str(Path(data_dir).resolve()) if data_dir is not None else None,
    )


@functools.lru_cache(maxsize=4)
def _manager(include_path: str | None, data_dir: str | None) -> Any:
    _offline()
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._factory import TaskFactory

    if include_path is not None and not Path(include_path).is_dir():
        raise TaskError(f"include path not found: {include_path}")
    tm = TaskManager(include_path=include_path)
    if data_dir is not None:
        root = Path(data_dir)
        if not root.is_dir():
            raise TaskError(f"data directory not found: {root}")

        class _LocalData(TaskFactory):  # type: ignore[misc]  # lm-eval is untyped
            def _load_full_config(self, entry: Any, overrides: Any = None) -> dict[str, Any]:
                return local_dataset(super()._load_full_config(entry, overrides), root)

        if not isinstance(getattr(tm, "_factory", None), TaskFactory):
            raise TaskError("this lm-eval version has no TaskFactory hook; see pyproject's pin")
        tm._factory = _LocalData(meta=None)
    return tm


@dataclass
class Harness:
    """An lm-eval task object and its requests per item key, as lm-eval built them.

    ``measure`` runs lm-eval's filters and ``process_results`` on an item's model answers;
    ``aggregate`` its aggregation functions over the stored per-item values.
    """

    task: Any
    output_type: str
    instances: dict[str, list[Any]]
    filters: tuple[str, ...] = field(default_factory=tuple)

    @property
    def repeats(self) -> int:
        return int(self.task.config.repeats or 1)

    def measure(self, answers: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
        """Per item key: ``{"metric,filter": value}`` from lm-eval's filters and metrics.

        ``answers[key]`` holds, per request of the item (in ``idx`` order), what lm-eval's LM
        returns for it: ``(logprob, is_greedy)`` per choice, or the list of ``repeats``
        generations. Filters run on exactly these items' requests.
        """
        insts = []
        for key, per_request in answers.items():
            for inst, resp in zip(self.instances[key], per_request, strict=True):
                inst.resps = [resp] if self.output_type in SCORED else list(resp)
                inst.filtered_resps = {}
                insts.append(inst)
        for ensemble in self.task._filters:
            ensemble.apply(insts)
        out: dict[str, dict[str, Any]] = {}
        for key in answers:
            reqs = self.instances[key]
            values: dict[str, Any] = {}
            for name in reqs[0].filtered_resps:
                got = self.task.process_results(reqs[0].doc, [r.filtered_resps[name] for r in reqs])
                values |= {f"{metric},{name}": jsonable(v) for metric, v in got.items()}
            out[key] = values
        return out

    def filtered(self, key: str) -> dict[str, Any]:
        """The item's filtered responses per filter (after :meth:`measure`), for the record."""
        reqs = self.instances[key]
        return {
            name: [jsonable(r.filtered_resps[name]) for r in reqs]
            for name in reqs[0].filtered_resps
        }

    def aggregate(self, per_item: Iterable[dict[str, Any]]) -> dict[str, Any]:
        """lm-eval's task-level numbers (``"acc,none"``, ``"acc_stderr,none"``, ...).

        Standard errors only where lm-eval has a closed form (means); bootstrapped ones are
        left out ("N/A"), since resampling 100,000 times is a cost no summary should hide.
        """
        from lm_eval.api.metrics import acc_all, acc_all_stderr, mean, mean_stderr

        closed = {mean: mean_stderr, acc_all: acc_all_stderr}
        values: dict[str, list[Any]] = {}
        for item in per_item:
            for k, v in item.items():
                values.setdefault(k, []).append(v)
        aggregations = self.task.aggregation()
        out: dict[str, Any] = {}
        for k, items in values.items():
            metric, _, filt = k.partition(",")
            fn = aggregations.get(metric, mean)
            out[k] = jsonable(fn(items))
            err = closed.get(fn)
            out[f"{metric}_stderr,{filt}"] = (
                float(err(items)) if err is not None and len(items) > 1 else "N/A"
            )
        return out


def jsonable(v: Any) -> Any:
    """Per-item metric values as JSON (tuples to lists, numpy to Python), as stored."""
    if isinstance(v, tuple | list):
        return [jsonable(x) for x in v]
    if hasattr(v, "tolist"):
        return v.tolist()
    return v


def load_lm_eval_tasks(
    name: str,
    *,
    include_path: str | Path | None = None,
    data_dir: str | Path | None = None,
    fewshot_seed: int = 1234,
    num_fewshot: int | None = None,
    limit: int | None = None,
) -> list[Task]:
    """The leaf tasks of lm-eval task, group or tag ``name``, as capcast tasks.

    Set up as ``lm_eval.simple_evaluate`` sets them up (``num_fewshot`` overrides the config's
    unless it says 0; the few-shot sampler is seeded with ``fewshot_seed``; ``limit`` keeps the
    first documents, whose contexts are those of a run over all of them).
    """
    if limit is not None and not 0 < limit <= MAX_DOCS:
        raise TaskError(f"limit must be in [1, {MAX_DOCS}], got {limit}")
    tm = task_manager(include_path, data_dir)
    with _BUILD_LOCK:
        try:
            loaded = tm.load([name])
        except KeyError as e:
            raise TaskError(f"lm-eval knows no task, group or tag {name!r}") from e
        tasks = sorted(loaded["tasks"].items())
        return [_to_task(obj, fewshot_seed, num_fewshot, limit) for _, obj in tasks]


def _to_task(obj: Any, fewshot_seed: int, num_fewshot: int | None, limit: int | None) -> Task:
    name = str(obj.config.task)
    output_type = str(obj.OUTPUT_TYPE)
    if output_type not in SCORED + GENERATED:
        raise TaskError(f"lm-eval task {name}: output_type {output_type} is not supported")
    if getattr(obj, "UNSAFE_CODE", False) or getattr(obj, "MULTIMODAL", False):
        raise TaskError(f"lm-eval task {name}: code-executing and multimodal tasks are refused")
    if num_fewshot is not None and obj.get_config("num_fewshot") != 0:
        obj.set_config(key="num_fewshot", value=num_fewshot)
    elif obj.get_config("num_fewshot") is None:
        obj.set_config(key="num_fewshot", value=0)
    obj.set_fewshot_seed(seed=fewshot_seed)
    obj.build_all_requests(limit=limit)
    by_doc: dict[int, list[Any]] = {}
    for inst in obj.instances:
        by_doc.setdefault(inst.doc_id, []).append(inst)
    items, instances = [], {}
    for doc_id in sorted(by_doc):
        reqs = sorted(by_doc[doc_id], key=lambda r: r.idx)
        item = _item(obj, output_type, reqs)
        if item.key not in instances:  # identical documents: one item, as capcast stores them
            items.append(item)
            instances[item.key] = reqs
    filters = tuple(f.name for f in obj._filters)
    metrics = sorted(obj._metric_fn_list)
    gen = dict(obj.config.generation_kwargs or {}) if output_type in GENERATED else {}
    version = obj.VERSION if obj.VERSION != "Yaml" else None
    return Task(
        name=name,
        output_type=MULTIPLE_CHOICE if output_type in SCORED else GENERATE,
        items=tuple(items),
        target_delimiter=str(obj.config.target_delimiter),
        generation={k: jsonable(v) for k, v in gen.items()},
        checker={"kind": "lm_eval", "metrics": metrics, "filters": list(filters)},
        source=f"lm-eval:{name}",
        version=None if version is None else str(version),
        harness=Harness(obj, output_type, instances, filters),
    )


def _item(obj: Any, output_type: str, reqs: list[Any]) -> TaskItem:
    doc = reqs[0].doc
    key = doc_hash(doc)
    context = str(reqs[0].arguments[0])
    if output_type == "loglikelihood":
        return TaskItem(key, context, doc, (str(reqs[0].arguments[1]),), 0)
    if output_type in GENERATED:
        return TaskItem(key, context, doc, answer=str(obj.doc_to_target(doc)))
    if any(not str(r.arguments[0]) for r in reqs):
        raise TaskError(f"lm-eval task {obj.config.task}: empty contexts (acc_mutual_info)")
    choices = [str(c) for c in obj.doc_to_choice(doc)]
    gold: Any = obj.doc_to_text(doc) if obj.multiple_input else obj.doc_to_target(doc)
    if isinstance(gold, list):
        gold = gold[0] if gold else 0
    if isinstance(gold, str):
        gold = choices.index(gold) if gold in choices else 0
    return TaskItem(key, context, doc, tuple(choices), int(gold))
