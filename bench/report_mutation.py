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
    "predictors/filters.py": ("tests/unit/test_filters.py", "tests/unit/test_filters_rules.py"),
    "predictors/names.py": ("tests/unit/test_names.py", "tests/unit/test_names_rules.py"),
    "predictors/agreement.py": ("tests/unit/test_agreement.py",),
    "predictors/agreement_engine.py": (
        "tests/unit/test_agreement.py",
        "tests/unit/test_agreement_engine.py",
    ),
    "predictors/agreement_verdict.py": (
        "tests/unit/test_agreement.py",
        "tests/unit/test_agreement_verdict.py",
    ),
    "predictors/loss_accuracy.py": ("tests/unit/test_loss_accuracy.py",),
    "predictors/registry.py": ("tests/unit/test_registry.py", "tests/unit/test_cli_startup.py"),
    "predictors/intervals.py": ("tests/unit/test_intervals.py",),
    "predictors/selection.py": ("tests/unit/test_selection.py", "tests/unit/test_intervals.py"),
    "predictors/batch_fit.py": ("tests/unit/test_batch_fit.py",),
    "predictors/contracts.py": (
        "tests/unit/test_contracts_rules.py",
        "tests/unit/test_contracts.py",
    ),
    "predictors/calibration.py": ("tests/unit/test_calibration.py",),
    "predictors/item_data.py": ("tests/unit/test_item_data.py",),
    "predictors/synthetic_items.py": ("tests/unit/test_synthetic_items.py",),
    "predictors/base.py": ("tests/unit/test_base.py",),
    "predictors/leaderboard.py": (
        "tests/unit/test_leaderboard.py",
        "tests/unit/test_leaderboard_result.py",
    ),
    "predictors/auto.py": ("tests/unit/test_auto.py",),
}

_BATCH_DTYPE = "dtype dropped: np.clip's float bounds or float arithmetic make it float"
_ZIP_EQUAL = "zip of equal-length sequences (one frame's columns, or one forecast per target)"
_ASTYPE_NONE = "astype(None) is float64, as astype(float)"
_GEN_DEFAULT = "a default of the synthetic-data generator: every test passes its own"
_NAN_FILL = "a NaN fill: Series(None or no data, dtype=float) is all NaN too"
_LM_TUNING = "damping and stopping schedule: another reaches the same optimum"
_BOUNDS = "box bounds: tuning constants (the one that binds, g >= 0, is tested)"
#: Lines not mutated, each with the reason its mutants are equivalent (printed with the report).
SKIP_PATTERNS: dict[str, str] = {
    r"return grid\(": "multi-start grid: another start that reaches the same optimum is equivalent",
    r"= float\(np\.clip\(y\.min\(\)": "a start derived from the data: as above",
    r"^\s+return \[[-\d., e]+\], \[[-\d., e]+\]$": _BOUNDS,
    r"^\s+(lo = |return lo, )\[[-\d., e]+\]$": _BOUNDS,
    # predictors/batch_fit.py: the Levenberg-Marquardt iteration's tuning (tests check where it
    # lands, against scipy and closed forms, not how many steps it takes)
    r"lam\[upd\] = np\.maximum\(lam\[upd\] / 3\.0": _LM_TUNING,
    r"lam\[rows\[~better\]\] \*= 4\.0": _LM_TUNING,
    r"d = np\.maximum\(d, 1e-12 \* np\.maximum": _LM_TUNING,
    r"h = _FD_STEP \* np\.maximum\(1\.0": "difference step size: " + _LM_TUNING,
    r"small = np\.abs\(Pn - Pa\)": "stopping rules overlap (tiny step, no gain, damping cap, "
    "iteration cap): " + _LM_TUNING,
    r"done = \(better & \(gain <= ftol": "as above",
    # predictors/filters.py
    r'in \("True", "False", "None"\):$': "unreachable: Python 3 parses True/False/None as "
    "ast.Constant, never as ast.Name (dead branches in _Checker._name and _Evaluator._column)",
    r'return \{"True": True, "False": False, "None": None\}\[name\]$': "as above (its body)",
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
    # predictors/registry.py
    "predictors.registry.xǁLazyMethodsǁ__getitem____mutmut_3": "rpartition: every path has one ':'",
    # predictors/agreement_engine.py
    "predictors.agreement_engine.x__describe_rows__mutmut_4": "simplefilter without a category: "
    "only RuntimeWarnings (all-NaN rows) arise in that block",
    "predictors.agreement_engine.x__row_quantiles__mutmut_5": "sort's default axis is the last, "
    "axis 1 of a 2-D array",
    "predictors.agreement_engine.x__row_quantiles__mutmut_44": "take_along_axis' default axis is "
    "-1 (numpy 2.3), axis 1 here",
    "predictors.agreement_engine.x__row_quantiles__mutmut_53": "as mutmut_44",
    "predictors.agreement_engine.x__row_quantiles__mutmut_63": "count >= 0: a row with no values "
    "has a = b = NaN, NaN either way",
    "predictors.agreement_engine.x_kendall_tau_b__mutmut_25": "chunk size only (k*k >= 4 whenever "
    "a row has a pair; k < 2 is NaN either way); the chunk bound is tested at k = 2000",
    "predictors.agreement_engine.x_kendall_tau_b__mutmut_57": "einsum subscripts are any letters",
    "predictors.agreement_engine.x_kendall_tau_b__mutmut_88": "errstate over a division whose "
    "zero denominators are already replaced by 1: no floating-point error is raised there",
    "predictors.agreement_engine.x_kendall_tau_b__mutmut_89": "as above",
    "predictors.agreement_engine.x_kendall_tau_b__mutmut_90": "as above",
    "predictors.agreement_engine.x_kendall_tau_b__mutmut_91": "as above",
    "predictors.agreement_engine.x_kendall_tau_b__mutmut_111": "inner denom >= 0: the 0/0 it lets "
    "through is discarded by the outer where (NaN there), under errstate",
    "predictors.agreement_engine.x_kendall_tau_b__mutmut_112": "inner denom > 1: denom is the "
    "root of a product of positive integers, so > 0 means >= 1, and at 1 dividing by 1.0 is dividing by denom",
    "predictors.agreement_engine.x_kendall_tau_b__mutmut_113": "the inner fill value is discarded "
    "by the outer where",
    "predictors.agreement_engine.x_pearson_r__mutmut_38": "errstate, as kendall_tau_b__mutmut_88",
    "predictors.agreement_engine.x_pearson_r__mutmut_39": "as above",
    "predictors.agreement_engine.x_pearson_r__mutmut_40": "as above",
    "predictors.agreement_engine.x_pearson_r__mutmut_41": "as above",
    "predictors.agreement_engine.x_pearson_r__mutmut_64": "as kendall_tau_b__mutmut_111",
    "predictors.agreement_engine.x_pearson_r__mutmut_66": "as kendall_tau_b__mutmut_113",
    "predictors.agreement_engine.x_subset_indices__mutmut_12": "argsort's default axis is the "
    "last, axis 1 here",
    "predictors.agreement_engine.x_subset_indices__mutmut_22": "integers(high) is integers(0, "
    "high): the same draws",
    "predictors.agreement_engine.x_pair_agreement__mutmut_6": "labels of the two-column frame: "
    "to_numpy is positional and the names passed on are a.name and r.name",
    "predictors.agreement_engine.x_pair_agreement__mutmut_7": "as above",
    "predictors.agreement_engine.x_pair_agreement__mutmut_8": "as above",
    "predictors.agreement_engine.x_pair_agreement__mutmut_9": "as above",
    "predictors.agreement_engine.x_pair_agreement__mutmut_10": "as mutmut_6",
    "predictors.agreement_engine.x_pair_agreement__mutmut_11": "as mutmut_6",
    # predictors/filters.py
    "predictors.filters.x__all_numbers__mutmut_3": "no number counted: the element loop compares "
    "the same values as the float branch (NaN: false, != true)",
    "predictors.filters.x__compare__mutmut_30": "np.full dtype left to numpy: float64, <U or "
    "object (ints past int64, None) all reach a branch that compares the same values",
    "predictors.filters.x__compare__mutmut_33": "as mutmut_30",
    "predictors.filters.x__compare__mutmut_40": "as mutmut_30",
    "predictors.filters.x__compare__mutmut_43": "as mutmut_30",
    "predictors.filters.x__compare__mutmut_48": "dtype of one comparison step: "
    "_Evaluator._compare and-s it into its result with np.logical_and, which returns bool",
    "predictors.filters.x__compare__mutmut_50": "dtype of one comparison step: "
    "_Evaluator._compare and-s it into its result with np.logical_and, which returns bool",
    "predictors.filters.x__compare__mutmut_61": "dtype of one comparison step: "
    "_Evaluator._compare and-s it into its result with np.logical_and, which returns bool",
    "predictors.filters.x__compare__mutmut_63": "dtype of one comparison step: "
    "_Evaluator._compare and-s it into its result with np.logical_and, which returns bool",
    "predictors.filters.x__compare__mutmut_75": "dtype of one comparison step: "
    "_Evaluator._compare and-s it into its result with np.logical_and, which returns bool",
    "predictors.filters.x__compare__mutmut_77": "dtype of one comparison step: "
    "_Evaluator._compare and-s it into its result with np.logical_and, which returns bool",
    "predictors.filters.x__compare__mutmut_85": "dtype of one comparison step: "
    "_Evaluator._compare and-s it into its result with np.logical_and, which returns bool",
    "predictors.filters.x__compare__mutmut_87": "dtype of one comparison step: "
    "_Evaluator._compare and-s it into its result with np.logical_and, which returns bool",
    "predictors.filters.x__compare__mutmut_58": "float branch skipped: the element loop compares "
    "the same values as the float branch (NaN: false, != true)",
    "predictors.filters.x__compare__mutmut_71": "as mutmut_58",
    "predictors.filters.x__compare__mutmut_72": "as mutmut_58",
    "predictors.filters.x__compare__mutmut_68": "astype(None) is float64, as astype(float)",
    "predictors.filters.x__compare__mutmut_82": "as mutmut_68",
    "predictors.filters.x__compare__mutmut_91": "zip of two length-n arrays: strict is moot",
    "predictors.filters.x__compare__mutmut_94": "as mutmut_91",
    "predictors.filters.x__compare__mutmut_95": "as mutmut_91",
    "predictors.filters.x__compare__mutmut_96": "one side missing: Python's own comparison of "
    "None/NaN already gives false (!= true), and pd.NA's ambiguous truth raises TypeError, caught "
    "as the same rule",
    "predictors.filters.x__compare__mutmut_108": "!= never raises TypeError between the values a "
    "column holds (str, float, None)",
    "predictors.filters.x__isin__mutmut_15": "dtype of one comparison step: _Evaluator._compare "
    "and-s it into its result with np.logical_and, which returns bool",
    "predictors.filters.x__isin__mutmut_17": "dtype of one comparison step: _Evaluator._compare "
    "and-s it into its result with np.logical_and, which returns bool",
    "predictors.filters.x__missing__mutmut_1": "NaN not flagged missing: Python's NaN comparisons "
    "are false (!= true), the missing rule",
    "predictors.filters.x_parse_filter__mutmut_25": "unreachable within MAX_LENGTH on CPython "
    "3.11: 1990 nested unary ops parse, 200 parentheses are a SyntaxError; no "
    "RecursionError/MemoryError arises",
    "predictors.filters.xǁ_Checkerǁ_list__mutmut_8": "unreachable: MAX_LIST (1000) one-digit "
    "elements need > MAX_LENGTH (2000) characters, so the length cap refuses such a list first",
    "predictors.filters.xǁ_Checkerǁ_list__mutmut_9": "as mutmut_8",
    "predictors.filters.xǁ_Checkerǁ_list__mutmut_10": "as mutmut_8",
    "predictors.filters.xǁ_Checkerǁ_list__mutmut_11": "as mutmut_8",
    "predictors.filters.xǁ_Checkerǁ_list__mutmut_12": "as mutmut_8",
    "predictors.filters.xǁ_Checkerǁ_node__mutmut_39": "zip of a Compare's ops and comparators: "
    "equal length by the grammar",
    "predictors.filters.xǁ_Checkerǁ_node__mutmut_42": "as mutmut_39",
    "predictors.filters.xǁ_Checkerǁ_node__mutmut_43": "as mutmut_39",
    "predictors.filters.xǁ_Evaluatorǁ_compare__mutmut_7": "as _Checker._node__mutmut_39",
    "predictors.filters.xǁ_Evaluatorǁ_compare__mutmut_10": "as mutmut_7",
    "predictors.filters.xǁ_Evaluatorǁ_compare__mutmut_11": "as mutmut_7",
    "predictors.filters.xǁ_Checkerǁ_refuse__mutmut_6": "every refused node is an ast.expr, which "
    "has col_offset: the no-column branch is never taken",
    "predictors.filters.xǁ_Checkerǁ_refuse__mutmut_11": "as mutmut_6",
    "predictors.filters.xǁ_Checkerǁ_refuse__mutmut_15": "as mutmut_6",
    "predictors.filters.xǁ_Evaluatorǁ_column__mutmut_20": "missing cells of a float conversion "
    "are NaN whatever na_value (None becomes NaN in a float array; pandas' default for float is "
    "NaN)",
    "predictors.filters.xǁ_Evaluatorǁ_column__mutmut_22": "as mutmut_20",
    "predictors.filters.xǁ_Evaluatorǁ_column__mutmut_23": "a non-numeric column's to_numpy() is "
    "object already",
    "predictors.filters.xǁ_Evaluatorǁvisit__mutmut_46": "unreachable: _Checker refuses every "
    "other node before evaluation",
    "predictors.filters.xǁ_Evaluatorǁvisit__mutmut_47": "as mutmut_46",
    # predictors/batch_fit.py
    "predictors.batch_fit.x_batch_refit__mutmut_3": "default iteration cap 201 for 200",
    "predictors.batch_fit.x_batch_refit__mutmut_9": _BATCH_DTYPE,
    "predictors.batch_fit.x_batch_refit__mutmut_11": _BATCH_DTYPE,
    "predictors.batch_fit.x_batch_refit__mutmut_21": _BATCH_DTYPE,
    "predictors.batch_fit.x_batch_refit__mutmut_23": _BATCH_DTYPE,
    "predictors.batch_fit.x_batch_refit__mutmut_39": _BATCH_DTYPE,
    "predictors.batch_fit.x_batch_refit__mutmut_41": _BATCH_DTYPE,
    "predictors.batch_fit.x_batch_refit__mutmut_52": _BATCH_DTYPE,
    "predictors.batch_fit.x_batch_refit__mutmut_54": _BATCH_DTYPE,
    "predictors.batch_fit.x_batch_refit__mutmut_113": _BATCH_DTYPE,
    "predictors.batch_fit.x_batch_refit__mutmut_115": _BATCH_DTYPE,
    "predictors.batch_fit.x_batch_refit__mutmut_58": "start not clipped into the box: the "
    "first step is (the same optimum; tested with starts outside)",
    "predictors.batch_fit.x_batch_refit__mutmut_59": "as above",
    "predictors.batch_fit.x_batch_refit__mutmut_109": "pred == 0: log(0) = -inf, cost inf as "
    "for NaN",
    "predictors.batch_fit.x_batch_refit__mutmut_129": "|r| == delta exactly: both Huber "
    "branches agree there",
    "predictors.batch_fit.x_batch_refit__mutmut_134": "(left) the Huber tail's constant: "
    "shifts each outlier's cost by delta^2, same steps unless a point crosses delta",
    "predictors.batch_fit.x_batch_refit__mutmut_184": "Pa + h == hi exactly: either "
    "direction stays in the box",
    "predictors.batch_fit.x_batch_refit__mutmut_229": "a NaN Jacobian makes A and g both "
    "non-finite, so 'and' and 'or' flag the same rows",
    "predictors.batch_fit.x_batch_refit__mutmut_239": "a bad row's step from g = 1 is never "
    "'better' in the tests (left: no test of a bad row that a blind step would improve)",
    "predictors.batch_fit.x_batch_refit__mutmut_244": "g == 0 exactly at a bound: holding or "
    "not, the step there is 0",
    "predictors.batch_fit.x_batch_refit__mutmut_248": "as above",
    "predictors.batch_fit.x_batch_refit__mutmut_249": "(left) at the upper bound a gradient "
    "in (0, 1) pointing inward is held: no test has one",
    "predictors.batch_fit.x_batch_refit__mutmut_260": "where(None, 0, g) is g; a held "
    "parameter's step is then clipped back to its bound",
    "predictors.batch_fit.x_batch_refit__mutmut_273": "einsum subscripts are any letters",
    "predictors.batch_fit.x_batch_refit__mutmut_277": "held rows: A's row is 0, g is 0, so "
    "the step is 0 whatever the diagonal's sign",
    "predictors.batch_fit.x_batch_refit__mutmut_280": "damping lam/d for lam*d: " + _LM_TUNING,
    "predictors.batch_fit.x_batch_refit__mutmut_305": "accepting an equal cost: no gain, so "
    "the row stops either way",
    "predictors.batch_fit.x_batch_refit__mutmut_307": "the gain test disabled: the tiny-step "
    "and damping-cap rules still stop it, at the same optimum",
    "predictors.batch_fit.x_batch_refit__mutmut_310": "None assigned into a bool array is False",
    # predictors/leaderboard.py
    "predictors.leaderboard.x__compute__mutmut_64": _ASTYPE_NONE,
    "predictors.leaderboard.x__progress__mutmut_13": _ASTYPE_NONE,
    "predictors.leaderboard.x__summary__mutmut_39": "astype(None) of bools: their mean is the same share",
    "predictors.leaderboard.x__datasets__mutmut_17": "dtype of an empty Series: len 0 either way",
    "predictors.leaderboard.x__datasets__mutmut_3": "groupby order: the result is a dict keyed by family",
    "predictors.leaderboard.x__datasets__mutmut_5": "as above",
    "predictors.leaderboard.x__datasets__mutmut_8": "as above",
    "predictors.leaderboard.x_leaderboard__mutmut_98": "groupby order: by_family is a dict looked up by name",
    "predictors.leaderboard.x_leaderboard__mutmut_100": "as above",
    "predictors.leaderboard.x_leaderboard__mutmut_103": "as above",
    "predictors.leaderboard.xǁLeaderboardResultǁcells__mutmut_18": "order of the first-refusal groups: merged by key",
    "predictors.leaderboard.xǁLeaderboardResultǁcells__mutmut_20": "as above",
    "predictors.leaderboard.xǁLeaderboardResultǁcells__mutmut_25": "as above",
    "predictors.leaderboard.xǁLeaderboardResultǁcells__mutmut_30": "merge on the common columns: exactly the keys",
    "predictors.leaderboard.xǁLeaderboardResultǁcells__mutmut_33": "as above",
    "predictors.leaderboard.xǁLeaderboardResultǁ_grouped__mutmut_17": "groupby(sort=None): None is falsy, as False",
    "predictors.leaderboard.xǁLeaderboardResultǁ_grouped__mutmut_13": "groupby on a list of keys yields tuples",
    "predictors.leaderboard.xǁLeaderboardResultǁ_grouped__mutmut_3": "only reached with no rows: iloc[:1] is empty too",
    "predictors.leaderboard.xǁLeaderboardResultǁ_grouped__mutmut_8": _ZIP_EQUAL,
    "predictors.leaderboard.xǁLeaderboardResultǁ_grouped__mutmut_11": _ZIP_EQUAL,
    "predictors.leaderboard.xǁLeaderboardResultǁ_grouped__mutmut_14": _ZIP_EQUAL,
    "predictors.leaderboard.x__rows_of__mutmut_4": _ZIP_EQUAL,
    "predictors.leaderboard.x__rows_of__mutmut_7": _ZIP_EQUAL,
    "predictors.leaderboard.x__rows_of__mutmut_8": _ZIP_EQUAL,
    "predictors.leaderboard.x_leaderboard__mutmut_71": _ZIP_EQUAL,
    "predictors.leaderboard.x_leaderboard__mutmut_75": _ZIP_EQUAL,
    "predictors.leaderboard.x_leaderboard__mutmut_82": _ZIP_EQUAL,
    "predictors.leaderboard.x_score_split__mutmut_71": _ZIP_EQUAL,
    "predictors.leaderboard.x_score_split__mutmut_74": _ZIP_EQUAL,
    "predictors.leaderboard.x_score_split__mutmut_79": _ZIP_EQUAL,
    "predictors.leaderboard.x__rows_of__mutmut_47": "abs(NaN - y) is NaN: the refused value either way",
    "predictors.leaderboard.x__summary__mutmut_23": "mean/max of no values is NaN either way",
    "predictors.leaderboard.x__summary__mutmut_30": "as above",
    "predictors.leaderboard.x__summary__mutmut_37": "as above",
    "predictors.leaderboard.x_checkpoint_split__mutmut_21": "one checkpoint per model: no early row, the later guard returns None",
    "predictors.leaderboard.x_largest_splits__mutmut_24": "break for continue: when largest is skipped two_largest is too",
    "predictors.leaderboard.x_leaderboard__mutmut_2": "default seed 1 for 0",
    "predictors.leaderboard.x_score_split__mutmut_34": "concat index: backtest selects rows by model, not label",
    "predictors.leaderboard.x_score_split__mutmut_36": "as above",
    "predictors.leaderboard.x_score_split__mutmut_37": "as above",
    "predictors.leaderboard.xǁLeaderboardResultǁtable__mutmut_19": "dtype of the empty cells Series: unused with no rows",
    "predictors.leaderboard.xǁLeaderboardResultǁtable__mutmut_24": "every method in the table has rows: map never misses",
    "predictors.leaderboard.xǁLeaderboardResultǁtable__mutmut_28": "as above",
    "predictors.leaderboard.xǁLeaderboardResultǁtable__mutmut_33": 'na_position="last" is the default',
    "predictors.leaderboard.xǁLeaderboardResultǁto_dict__mutmut_10": "pandas reads orient case-insensitively",
    # predictors/names.py
    "predictors.names.x_match_report__mutmut_41": "n of get_close_matches: only the best (first) is read",
    "predictors.names.x_match_report__mutmut_43": "as above",
    "predictors.names.x_normalise_model_name__mutmut_22": "org None for '': both falsy",
    "predictors.names.x_normalise_model_name__mutmut_98": "strip('XX_XX') strips X and _: the text is "
    "lowercase, so only _",
    "predictors.names.x_normalise_model_name__mutmut_117": "as above (the org is lowercase too)",
    "predictors.names.x_normalise_names__mutmut_34": "dedupe on all columns: key is a function of raw",
    "predictors.names.x_normalise_names__mutmut_76": _ZIP_EQUAL,
    "predictors.names.x_normalise_names__mutmut_79": _ZIP_EQUAL,
    "predictors.names.x_normalise_names__mutmut_80": _ZIP_EQUAL,
    # predictors/contracts.py
    "predictors.contracts.x__finite__mutmut_9": _ASTYPE_NONE,
    "predictors.contracts.x__substitute__mutmut_3": _ASTYPE_NONE,
    "predictors.contracts.x__substitute__mutmut_19": _ASTYPE_NONE,
    "predictors.contracts.x__lacking__mutmut_10": "the index of the models Series: the mask "
    "is positional (a numpy array), so its labels never matter",
    "predictors.contracts.x__lacking__mutmut_12": "as above",
    "predictors.contracts.x_conform_targets__mutmut_4": "_stand_in_ok(m, m) is available(m) "
    "when nothing was substituted",
    "predictors.contracts.x_series_rows__mutmut_29": "iloc[1:0] is empty, as iloc[0:0]",
    # predictors/selection.py
    "predictors.selection.x_as_score__mutmut_10": "typing.cast does nothing at run time",
    "predictors.selection.x_from_score__mutmut_10": "as above",
    "predictors.selection.x_compute_of__mutmut_5": _ASTYPE_NONE,
    "predictors.selection.x_compute_of__mutmut_8": _ASTYPE_NONE,
    "predictors.selection.x_compute_of__mutmut_15": _ASTYPE_NONE,
    "predictors.selection.x_select__mutmut_26": _ASTYPE_NONE,
    "predictors.selection.x_final_checkpoint__mutmut_21": "fill -2 for -1: steps are >= 0, "
    "any negative fill ranks a missing step first",
    "predictors.selection.x_interval_forecast__mutmut_12": "None for NaN: from_score reads "
    "None as NaN",
    "predictors.selection.x_residual_noise__mutmut_21": "replace=True is choice's default",
    "predictors.selection.x_residual_noise__mutmut_3": "dtype dropped: the result is scaled by "
    "a float, or zeros",
    "predictors.selection.x_residual_noise__mutmut_5": "as above",
    "predictors.selection.x_select__mutmut_34": "zip of two columns of one frame: strict is moot",
    "predictors.selection.x_select__mutmut_37": "as above",
    "predictors.selection.x_select__mutmut_42": "as above",
    "predictors.selection.x_target_rows__mutmut_14": "flops was just added when needed: "
    "requiring it too changes nothing",
    "predictors.selection.x_target_rows__mutmut_15": "as above",
    "predictors.selection.x_task_level__mutmut_24": "no checkpoint_step column: None or NaN "
    "fill, both missing (and not a group key then)",
    "predictors.selection.x_task_level__mutmut_26": "as above",
    "predictors.selection.x_task_level__mutmut_32": "groupby(dropna=None): None is falsy, as False",
    "predictors.selection.x_task_level__mutmut_42": "as above",
    "predictors.selection.x_task_level__mutmut_51": "item None for NaN: both missing",
    # predictors/synthetic_items.py: a generator of test data; its defaults are knobs (every
    # test passes what it checks) and some draws are symmetric in law
    "predictors.synthetic_items.x_synthetic_cod_ladder__mutmut_1": _GEN_DEFAULT,
    "predictors.synthetic_items.x_synthetic_cod_ladder__mutmut_2": _GEN_DEFAULT,
    "predictors.synthetic_items.x_synthetic_cod_ladder__mutmut_3": _GEN_DEFAULT,
    "predictors.synthetic_items.x_synthetic_cod_ladder__mutmut_5": _GEN_DEFAULT,
    "predictors.synthetic_items.x_synthetic_cod_ladder__mutmut_10": "1e18 and 1e+18 are one "
    "literal",
    "predictors.synthetic_items.x_synthetic_cod_ladder__mutmut_11": _GEN_DEFAULT,
    "predictors.synthetic_items.x_synthetic_passuntil_ladder__mutmut_1": _GEN_DEFAULT,
    "predictors.synthetic_items.x_synthetic_passuntil_ladder__mutmut_2": _GEN_DEFAULT,
    "predictors.synthetic_items.x_synthetic_passuntil_ladder__mutmut_4": _GEN_DEFAULT,
    "predictors.synthetic_items.x_synthetic_passuntil_ladder__mutmut_7": _GEN_DEFAULT,
    "predictors.synthetic_items.x_passuntil_sample__mutmut_1": _GEN_DEFAULT,
    "predictors.synthetic_items.x_passuntil_sample__mutmut_2": _GEN_DEFAULT,
    "predictors.synthetic_items.x_synthetic_cod_ladder__mutmut_19": "a / e^z for a e^z, "
    "z ~ N(0, jitter): the same log-normal law",
    "predictors.synthetic_items.x_synthetic_passuntil_ladder__mutmut_29": "F - delta for "
    "F + delta, delta ~ N(0, sd): the same law",
    "predictors.synthetic_items.x_synthetic_cod_ladder__mutmut_42": "dtype dropped: compute "
    "values are floats",
    "predictors.synthetic_items.x_synthetic_cod_ladder__mutmut_44": "as above",
    "predictors.synthetic_items.x_passuntil_sample__mutmut_4": "<= at p k_max = 1e-6: either "
    "branch censors (P(2 successes) ~ 1e-12)",
    "predictors.synthetic_items.x_passuntil_sample__mutmut_20": "cap r+1 when p k_max < 1e-6: "
    "the binomial is 0 (P(>= 1) < 1e-6)",
    "predictors.synthetic_items.x_passuntil_sample__mutmut_21": "as above",
    "predictors.synthetic_items.x_passuntil_sample__mutmut_24": "p = 1: a negative binomial "
    "with p = 1 has no failures, k = r either way",
    "predictors.synthetic_items.x_passuntil_sample__mutmut_35": "as above (p < 1 there)",
    "predictors.synthetic_items.x_passuntil_sample__mutmut_36": "as above",
    "predictors.synthetic_items.x_passuntil_sample__mutmut_37": "as above",
    # predictors/item_data.py
    "predictors.item_data.x__last_steps__mutmut_14": "fill -2 for -1: steps are >= 0, any "
    "negative fill ranks a missing step last",
    "predictors.item_data.x__last_steps__mutmut_17": "rank(ascending=None): None is falsy, "
    "descending as before",
    "predictors.item_data.x_checkpoint_points__mutmut_15": _NAN_FILL,
    "predictors.item_data.x_checkpoint_points__mutmut_17": "dtype dropped from a NaN fill: "
    "float64 anyway",
    "predictors.item_data.x_checkpoint_points__mutmut_18": _NAN_FILL,
    "predictors.item_data.x_checkpoint_points__mutmut_20": "as mutmut_17",
    "predictors.item_data.x_model_flops__mutmut_16": _NAN_FILL,
    "predictors.item_data.x_model_flops__mutmut_18": "dtype dropped from a NaN fill: "
    "float64 anyway",
    "predictors.item_data.x_model_flops__mutmut_19": _NAN_FILL,
    "predictors.item_data.x_model_flops__mutmut_21": "as mutmut_18",
    "predictors.item_data.x_model_flops__mutmut_4": "astype(None) of to_numeric's output: "
    "float64 either way",
    "predictors.item_data.x_item_results_to_observations__mutmut_46": _NAN_FILL,
    "predictors.item_data.x_item_results_to_observations__mutmut_48": "dtype dropped from a "
    "NaN fill: float64 anyway",
    "predictors.item_data.x_item_results_to_observations__mutmut_49": _NAN_FILL,
    "predictors.item_data.x_item_results_to_observations__mutmut_51": "as mutmut_48",
    "predictors.item_data.x_item_results_to_observations__mutmut_126": "astype(None) of "
    "to_numeric's output: float64 either way",
    "predictors.item_data.x_item_results_to_observations__mutmut_20": "another fill for a "
    "missing stop_reason: only 'checker_error' is dropped",
    "predictors.item_data.x_item_results_to_observations__mutmut_32": "default mode: any "
    "name but passuntil/greedy maps to pass_rate, as 'samples' does",
    "predictors.item_data.x_item_results_to_observations__mutmut_34": "as mutmut_32",
    "predictors.item_data.x_item_results_to_observations__mutmut_36": "as mutmut_32",
    "predictors.item_data.x_item_results_to_observations__mutmut_37": "as mutmut_32",
    "predictors.item_data.x_item_matrix__mutmut_4": "default by: only 'checkpoint' is "
    "special, any other value is 'model'",
    "predictors.item_data.x_item_matrix__mutmut_5": "as mutmut_4",
    "predictors.item_data.x_item_matrix__mutmut_39": "zip of two columns of one frame: "
    "strict is moot",
    "predictors.item_data.x_item_matrix__mutmut_42": "as mutmut_39",
    "predictors.item_data.x_item_matrix__mutmut_47": "as mutmut_39",
    "predictors.item_data.x_item_matrix__mutmut_55": "by='checkpoint': every point has one "
    "step, any window >= 1 keeps it",
    "predictors.item_data.x_item_matrix__mutmut_60": "None or NaN step: to_numeric(coerce) "
    "reads both as NaN",
    "predictors.item_data.x_item_matrix__mutmut_91": "pivot_table's default aggfunc is mean",
    "predictors.item_data.x_item_matrix__mutmut_137": "astype(None) of float flops: float64",
    "predictors.item_data.x_item_matrix__mutmut_140": "sort kind of compute: ties between "
    "ladder points are left in name order by numpy's insertion sort below 17 points too "
    "(left: a tie among > 16 points)",
    "predictors.item_data.x_item_matrix__mutmut_142": "numpy reads sort kind by its first "
    "letter, any case",
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
