"""Mutation testing per module (issue 18): which deliberate bugs do the module's own tests miss?

For each module, mutmut 3 runs in a scratch copy of the tree (``var/mutation/<module>/``, ignored
by git) whose ``[tool.mutmut]`` section mutates only that module and selects only its unit tests,
so one module takes minutes on two cores and modules do not share a mutant cache. One child
process at a time by default (``--max-children``): the machine is shared.

Usage::

    python bench/report_mutation.py                      # every module in MODULES
    python bench/report_mutation.py evals/passuntil.py   # some of them
    python bench/report_mutation.py --report-only ...    # re-read the last results, run nothing

Prints a table (module, mutants, killed, survived, survival %) and then every survivor's diff.
Survivors that are equivalent mutants are documented in the test file of their module.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / "var" / "mutation"
MUTMUT = Path(sys.executable).with_name("mutmut")
#: What a scratch copy needs: the packages (only one is mutated), tests, config, migrations.
COPY = ("predictors", "evals", "db", "service", "tests", "alembic", "alembic.ini", "pyproject.toml")
SOURCE_PATHS = ("predictors", "evals", "db")

#: Module -> the unit tests that are its own. A module's survivors are judged by these alone.
MODULES: dict[str, tuple[str, ...]] = {
    "evals/passuntil.py": ("tests/unit/test_passuntil_estimators.py",),
    "evals/choices.py": ("tests/unit/test_choices.py",),
    "evals/checkers.py": ("tests/unit/test_checkers.py",),
    "db/observations.py": (
        "tests/unit/test_observations.py",
        "tests/unit/test_observations_converters.py",
    ),
    "predictors/backtest.py": (
        "tests/unit/test_backtest.py",
        "tests/unit/test_backtest_summary.py",
    ),
    "predictors/baselines.py": ("tests/unit/test_baselines.py",),
    "predictors/laws.py": ("tests/unit/test_laws.py",),
    "predictors/cod.py": ("tests/unit/test_cod.py",),
    "predictors/cod_clustering.py": ("tests/unit/test_cod.py",),
    "predictors/cod_law.py": ("tests/unit/test_cod.py",),
    "predictors/ladder.py": ("tests/unit/test_ladder.py", "tests/unit/test_ladder_parts.py"),
    "predictors/densing.py": ("tests/unit/test_densing.py",),
    "predictors/passuntil.py": ("tests/unit/test_passuntil_law.py",),
    "predictors/passuntil_law.py": ("tests/unit/test_passuntil_law.py",),
    "predictors/perchoice.py": ("tests/unit/test_perchoice.py",),
    "predictors/filters.py": ("tests/unit/test_filters.py",),
    "predictors/names.py": ("tests/unit/test_names.py",),
    "predictors/agreement.py": ("tests/unit/test_agreement.py",),
    "predictors/agreement_engine.py": ("tests/unit/test_agreement.py",),
    "predictors/agreement_verdict.py": ("tests/unit/test_agreement.py",),
    "predictors/loss_accuracy.py": ("tests/unit/test_loss_accuracy.py",),
    "predictors/registry.py": ("tests/unit/test_backtest.py", "tests/unit/test_cli_startup.py"),
}

_BOUNDS = "box bounds: tuning constants (the one that binds, g >= 0, is tested)"
#: Lines not mutated, each with the reason its mutants are equivalent (printed with the report).
SKIP_PATTERNS: dict[str, str] = {
    r"return grid\(": "multi-start grid: another start that reaches the same optimum is equivalent",
    r"= float\(np\.clip\(y\.min\(\)": "a start derived from the data: as above",
    r"^\s+return \[[-\d., e]+\], \[[-\d., e]+\]$": _BOUNDS,
    r"^\s+(lo = |return lo, )\[[-\d., e]+\]$": _BOUNDS,
}

#: Survivors examined and left, with why no test can (or should) kill them. Names are mutmut's
#: and shift when a function changes; a survivor missing here is printed as "unexplained".
EQUIVALENT: dict[str, str] = {
    # evals/checkers.py
    "evals.checkers.x_last_number__mutmut_11": "break for continue in an except no match reaches "
    "(every _NUMBER match parses as a float once commas are removed)",
    "evals.checkers.x_make_checker__mutmut_35": "pop default None for False: both falsy",
    # evals/choices.py
    "evals.choices.x_aggregate__mutmut_16": "mean of no values is NaN either way",
    "evals.choices.x_aggregate__mutmut_20": "std(ddof=1) of < 2 values is NaN either way",
    "evals.choices.x_aggregate__mutmut_26": "as above (one value: NaN either way)",
    "evals.choices.x_aggregate__mutmut_7": "dtype float64 dropped: the fields are floats",
    "evals.choices.x_aggregate__mutmut_9": "as above",
    "evals.choices.x_item_metrics__mutmut_3": "dtype float64 dropped: exp and division promote",
    "evals.choices.x_item_metrics__mutmut_5": "as above",
    # evals/passuntil.py
    "evals.passuntil.x_estimator_moments__mutmut_111": "p_uncens == 0: 0/0 is NaN as well",
    "evals.passuntil.x_estimator_moments__mutmut_116": "as above",
    "evals.passuntil.x_estimator_moments__mutmut_120": "as above",
    "evals.passuntil.x_estimator_moments__mutmut_127": "as above",
    "evals.passuntil.x_estimator_moments__mutmut_32": "integer s: gammaln and products agree",
    "evals.passuntil.x_estimator_moments__mutmut_33": "arange(r) is arange(0, r)",
    "evals.passuntil.x_estimator_moments__mutmut_35": "integer s, as above",
    "evals.passuntil.x_estimator_moments__mutmut_36": "s = 0 adds 0 to every sum (estimate 0)",
    "evals.passuntil.x_estimator_moments__mutmut_4": "integer k: same values",
    "evals.passuntil.x_estimator_moments__mutmut_7": "integer k: same values",
    "evals.passuntil.x_pass_at_k__mutmut_3": "n-c < k <= n: the product has the factor 1-k/k = 0",
    "evals.passuntil.x_run_passuntil__mutmut_48": "zip(active, requests): equal by construction",
    "evals.passuntil.x_run_passuntil__mutmut_51": "as above",
    "evals.passuntil.x_run_passuntil__mutmut_52": "as above",
    "evals.passuntil.x_sample_seed__mutmut_7": "int.from_bytes defaults to big-endian",
    # predictors/backtest.py
    "predictors.backtest.xǁBacktestResultǁto_dict__mutmut_9": "pandas reads orient "
    "case-insensitively",
    "predictors.backtest.xǁBacktestResultǁto_dict__mutmut_12": "strict=None is strict=False",
    "predictors.backtest.xǁBacktestResultǁto_dict__mutmut_15": "zip's default is strict=False",
    # predictors/baselines.py
    "predictors.baselines.xǁCurveEstimatorǁpredict__mutmut_119": "another residual-noise seed: "
    "as valid; reproducibility per seed is tested",
    "predictors.baselines.xǁCurveEstimatorǁpredict__mutmut_80": "n_resamples when boot_ is None: "
    "n_bootstrap is 0 then, falsy either way",
    "predictors.baselines.xǁCurveEstimatorǁfit__mutmut_14": "select's label: the inputs check "
    "before it names the estimator first (left: message only)",
    "predictors.baselines.xǁCurveEstimatorǁfit__mutmut_19": "as above",
    "predictors.baselines.xǁCurveEstimatorǁfit__mutmut_35": "_bounds(None): no _bounds reads y",
    "predictors.baselines.xǁCurveEstimatorǁpredict__mutmut_16": "target_rows' label: "
    "conform_targets refuses missing columns first (left: message only)",
    "predictors.baselines.xǁCurveEstimatorǁpredict__mutmut_46": "input notes of a failed fit: "
    "none in these tests (left: needs a conformed-input case)",
    "predictors.baselines.xǁCurveEstimatorǁpredict__mutmut_123": "a target of zero compute "
    "(left: not a meaningful target)",
    "predictors.baselines.xǁSingleStepǁ_inputs__mutmut_1": "to_numpy(None) of float columns",
    "predictors.baselines.xǁSingleStepǁ_inputs__mutmut_4": "as above",
}

LINE = re.compile(r"^\s+(?P<name>\S+): (?P<status>.+)$")


@dataclass
class ModuleResult:
    module: str
    status: dict[str, str] = field(default_factory=dict)  # mutant name -> mutmut status

    def count(self, *statuses: str) -> int:
        return sum(s in statuses for s in self.status.values())

    @property
    def survivors(self) -> list[str]:
        return sorted(n for n, s in self.status.items() if s in ("survived", "no tests"))


def _slug(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def _mutmut_section(module: str, tests: tuple[str, ...]) -> str:
    """The ``[tool.mutmut]`` table; JSON arrays of strings are valid TOML arrays."""
    settings = {
        "source_paths": list(SOURCE_PATHS),
        "only_mutate": [module],
        "also_copy": ["service", "alembic", "alembic.ini"],
        "pytest_add_cli_args_test_selection": list(tests),
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-q"],
        "use_git_change_detection": False,
        "do_not_mutate_patterns": list(SKIP_PATTERNS),
    }
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    return "\n[tool.mutmut]\n" + "\n".join(lines) + "\n"


def prepare(module: str, tests: tuple[str, ...]) -> Path:
    """A fresh scratch copy whose pyproject scopes mutmut to ``module`` and ``tests``."""
    work = SCRATCH / _slug(module)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "mutants")
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, work / name)
    pyproject = work / "pyproject.toml"
    text = re.sub(r"(?ms)^\[tool\.mutmut\].*?(?=^\[|\Z)", "", pyproject.read_text())
    pyproject.write_text(text + _mutmut_section(module, tests))
    return work


def run(module: str, tests: tuple[str, ...], max_children: int) -> None:
    work = prepare(module, tests)
    env = os.environ | {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "TORCHDYNAMO_DISABLE": "1"}
    cmd = [str(MUTMUT), "run", "--max-children", str(max_children)]
    log = work / "mutmut-run.log"
    with log.open("w") as out:
        subprocess.run(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)


def read(module: str) -> ModuleResult:
    """Statuses of the last run's mutants of ``module`` (``mutmut results --all true``)."""
    work = SCRATCH / _slug(module)
    res = ModuleResult(module)
    if not (work / "mutants").is_dir():
        return res
    out = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    prefix = _slug(module) + "."
    for line in out.splitlines():
        m = LINE.match(line)
        if m and m["name"].startswith(prefix):
            res.status[m["name"]] = m["status"].strip()
    return res


def show(module: str, name: str) -> str:
    work = SCRATCH / _slug(module)
    out = subprocess.run(
        [str(MUTMUT), "show", name], cwd=work, capture_output=True, text=True, check=False
    )
    return out.stdout.strip()


def table(results: list[ModuleResult]) -> str:
    head = f"{'module':32} {'mutants':>7} {'killed':>7} {'survived':>8} {'other':>6} {'survival %':>10}"
    rows = [head, "-" * len(head)]
    for r in results:
        n = len(r.status)
        killed = r.count("killed", "timeout", "caught by type check")
        surv = len(r.survivors)
        other = n - killed - surv
        pct = f"{100 * surv / n:.1f}" if n else "-"
        rows.append(f"{r.module:32} {n:7d} {killed:7d} {surv:8d} {other:6d} {pct:>10}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", help=f"default: all of {len(MODULES)}")
    ap.add_argument("--max-children", type=int, default=1)
    ap.add_argument("--report-only", action="store_true", help="read the last results only")
    ap.add_argument("--no-diffs", action="store_true", help="list survivors without their diffs")
    ap.add_argument("--tests", nargs="+", help="test files to use instead of the module's own")
    args = ap.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        ap.error(f"unknown module(s) {unknown}; known: {sorted(MODULES)}")
    modules = args.modules or list(MODULES)
    results = []
    for module in modules:
        tests = tuple(args.tests or MODULES[module])
        if not args.report_only:
            print(f"== {module}: mutmut on {', '.join(tests)}", file=sys.stderr)
            run(module, tests, args.max_children)
        results.append(read(module))
    print(table(results))
    print("\nnot mutated (equivalent by construction):")
    for pattern, reason in SKIP_PATTERNS.items():
        print(f"  {pattern}: {reason}")
    for r in results:
        if not r.survivors:
            continue
        print(f"\n## survivors in {r.module} ({len(r.survivors)})")
        for name in r.survivors:
            why = EQUIVALENT.get(name, "unexplained")
            print(f"- {name}: {r.status[name]} ({why})")
            if not args.no_diffs:
                print("  " + show(r.module, name).replace("\n", "\n  "))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
