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
        "tests/unit/test_observations_readers.py",
        "tests/unit/test_observations_readers_csv.py",
        "tests/unit/test_cli_input_defects.py",
    ),
    "predictors/backtest.py": (
        "tests/unit/test_backtest.py",
        "tests/unit/test_backtest_summary.py",
    ),
    "predictors/baselines.py": ("tests/unit/test_baselines.py",),
    "predictors/laws.py": ("tests/unit/test_laws.py", "tests/unit/test_laws_rules.py"),
    "predictors/cod.py": ("tests/unit/test_cod.py", "tests/unit/test_cod_rules.py"),
    "predictors/cod_clustering.py": (
        "tests/unit/test_cod.py",
        "tests/unit/test_cod_clustering_rules.py",
    ),
    "predictors/cod_law.py": ("tests/unit/test_cod.py", "tests/unit/test_cod_law_rules.py"),
    "predictors/ladder.py": (
        "tests/unit/test_ladder.py",
        "tests/unit/test_ladder_parts.py",
        "tests/unit/test_ladder_rules.py",
    ),
    "predictors/densing.py": ("tests/unit/test_densing.py", "tests/unit/test_densing_rules.py"),
    "predictors/passuntil.py": (
        "tests/unit/test_passuntil_law.py",
        "tests/unit/test_passuntil_rules.py",
    ),
    "predictors/passuntil_law.py": (
        "tests/unit/test_passuntil_law.py",
        "tests/unit/test_passuntil_law_rules.py",
    ),
    "predictors/perchoice.py": (
        "tests/unit/test_perchoice.py",
        "tests/unit/test_perchoice_rules.py",
    ),
    "predictors/filters.py": ("tests/unit/test_filters.py", "tests/unit/test_filters_rules.py"),
    "predictors/names.py": ("tests/unit/test_names.py", "tests/unit/test_names_rules.py"),
    "predictors/agreement.py": (
        "tests/unit/test_agreement.py",
        "tests/unit/test_agreement_rules.py",
    ),
    "predictors/agreement_engine.py": (
        "tests/unit/test_agreement.py",
        "tests/unit/test_agreement_engine.py",
    ),
    "predictors/agreement_verdict.py": (
        "tests/unit/test_agreement.py",
        "tests/unit/test_agreement_verdict.py",
    ),
    "predictors/loss_accuracy.py": (
        "tests/unit/test_loss_accuracy.py",
        "tests/unit/test_loss_accuracy_rules.py",
    ),
    "predictors/registry.py": ("tests/unit/test_registry.py", "tests/unit/test_cli_startup.py"),
    "predictors/intervals.py": ("tests/unit/test_intervals.py",),
    "predictors/selection.py": ("tests/unit/test_selection.py", "tests/unit/test_intervals.py"),
    "predictors/batch_fit.py": ("tests/unit/test_batch_fit.py",),
    "predictors/contracts.py": (
        "tests/unit/test_contracts_rules.py",
        "tests/unit/test_contracts.py",
    ),
    "predictors/calibration.py": (
        "tests/unit/test_calibration.py",
        "tests/unit/test_calibration_rules.py",
    ),
    "predictors/item_data.py": ("tests/unit/test_item_data.py",),
    "predictors/synthetic_items.py": ("tests/unit/test_synthetic_items.py",),
    "predictors/base.py": ("tests/unit/test_base.py",),
    "predictors/leaderboard.py": (
        "tests/unit/test_leaderboard.py",
        "tests/unit/test_leaderboard_result.py",
    ),
    "predictors/auto.py": ("tests/unit/test_auto.py", "tests/unit/test_auto_rules.py"),
    "predictors/observational_fit.py": (
        "tests/unit/test_observational.py",
        "tests/unit/test_observational_fit_rules.py",
    ),
    "predictors/observational.py": (
        "tests/unit/test_observational.py",
        "tests/unit/test_observational_rules.py",
    ),
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
    # predictors/densing.py: DensityReference.fit's two start grids (the score grid's L0 start is
    # the data's median loss); the tests check the optimum both fits reach, against known curves
    r"^\s+starts ?= ?grid\(": "multi-start grid: as above",
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
    # predictors/observational_fit.py: the link fit's start (a linear fit of the logit of the
    # scores between floor and ceiling) and its margin inside the box; the tests check the
    # optimum the bounded least squares reaches from it, against a known link
    r"f0 = float\(np\.clip\(floor if floor": "start of the link fit: another start reaches the "
    "same optimum",
    r"c0 = float\(np\.clip\(ceiling if ceiling": "as above",
    r"frac = np\.clip\(\(y - f0\)": "as above",
    r"coef = np\.linalg\.lstsq\(design, np\.log\(frac": "as above",
    r"x0 = np\.clip\(x0, lower \+ eps / 10": "margin of the start inside the box: as above",
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
    # --- mutA (session 6)
    # predictors/auto.py (tests/unit/test_auto_rules.py)
    "predictors.auto.x__errors__mutmut_3": "dtype None: fold errors are floats already",
    "predictors.auto.x__errors__mutmut_5": "as above",
    "predictors.auto.x__own_coverage__mutmut_4": "mean of no flags is NaN either way",
    "predictors.auto.x__pool__mutmut_11": _ZIP_EQUAL,
    "predictors.auto.x__pool__mutmut_14": _ZIP_EQUAL,
    "predictors.auto.x__pool__mutmut_15": _ZIP_EQUAL,
    "predictors.auto.x_cached_folds__mutmut_20": "popitem(last=None): None is falsy, as False",
    "predictors.auto.x_frame_hash__mutmut_5": "hash_pandas_object(index=None): falsy, as False",
    "predictors.auto.x_frame_hash__mutmut_12": "column-name separator: changes the digest's "
    "value, not which frames share one (row hashes differ with the column count)",
    "predictors.auto.x_sign_test_p__mutmut_11": "binomtest's default p is 0.5",
    "predictors.auto.x_weights_from__mutmut_45": "2/MSE instead of 1/MSE: normalised, same shares",
    "predictors.auto.xǁAutoForecasterǁ_combine__mutmut_10": "fold MSE is NaN for every method at "
    "once (no common fold target): any equal fill gives equal weights",
    "predictors.auto.xǁAutoForecasterǁ_combine__mutmut_119": "calibrated() sets alpha from the "
    "calibration, which has self.alpha",
    "predictors.auto.xǁAutoForecasterǁ_combine__mutmut_23": "w is empty exactly when live is: [] "
    "either way",
    "predictors.auto.xǁAutoForecasterǁ_combine__mutmut_84": "every method of per_method has a "
    "weight (estimators_ and weights_ share keys): the default is never read",
    "predictors.auto.xǁAutoForecasterǁ_combine__mutmut_86": "as above",
    "predictors.auto.xǁAutoForecasterǁ_combine__mutmut_87": "as above",
    "predictors.auto.xǁAutoForecasterǁ_combined_calibration__mutmut_21": "no other fold: every "
    "method's errors are empty at once, so any equal MSE fill gives equal weights",
    "predictors.auto.xǁAutoForecasterǁ_combined_calibration__mutmut_28": "no other fold: "
    "separated_best of empty errors is None for 2+ methods (p = 1), and one method gets "
    "all the weight under best and median alike",
    "predictors.auto.xǁAutoForecasterǁ_combined_calibration__mutmut_91": "calibrate's default "
    "d0 is D0",
    "predictors.auto.xǁAutoForecasterǁ_usable__mutmut_20": "unreachable: a fold not refused "
    "forecasts each of its targets and a NaN point adds a refusal, so run.refused is never "
    "empty when fold 1 has no finite point",
    "predictors.auto.xǁAutoForecasterǁ_usable__mutmut_24": "as above (the unreachable text)",
    "predictors.auto.xǁAutoForecasterǁ_usable__mutmut_25": "as above",
    "predictors.auto.xǁAutoForecasterǁfit__mutmut_107": "mean of an empty array is NaN too",
    "predictors.auto.xǁAutoForecasterǁfit__mutmut_125": "a zero weight needs common fold "
    "targets, whose residuals make the calibration ok: no refit then",
    "predictors.auto.xǁAutoForecasterǁfit__mutmut_143": "model_compute raises (select) before it "
    "can return no rows: len(models) is never 0",
    "predictors.auto.xǁAutoForecasterǁpredict__mutmut_11": "flops=None: compute_of casts it to "
    "float NaN",
    "predictors.auto.xǁAutoForecasterǁpredict__mutmut_5": "reset_index(drop=None) adds an "
    "'index' column nothing reads (positions come from compute_of's array)",
    "predictors.auto.xǁAutoForecasterǁpredict__mutmut_6": "as above (drop=False)",
    # predictors/calibration.py (tests/unit/test_calibration_rules.py)
    "predictors.calibration.x__progress__mutmut_13": _ASTYPE_NONE,
    "predictors.calibration.x_calibrate__mutmut_1": "small_sample's default: only 't' is "
    "compared, any other value is the own-interval fallback",
    "predictors.calibration.x_calibrate__mutmut_2": "as above",
    "predictors.calibration.x_checkpoint_folds__mutmut_63": "to_numpy(None) of a float64 column "
    "(compute_of's output)",
    "predictors.calibration.x_nested_folds__mutmut_24": "as above",
    "predictors.calibration.x_nested_folds__mutmut_36": "as above",
    "predictors.calibration.x_conformal_quantile__mutmut_4": "dtype dropped: scores are numbers; "
    "sorting and float() of the picked one give the same value",
    "predictors.calibration.x_conformal_quantile__mutmut_6": "as above",
    "predictors.calibration.x_conformal_quantile__mutmut_9": "as above (isfinite of the same "
    "numbers)",
    "predictors.calibration.x_conformal_quantile__mutmut_11": "as above",
    "predictors.calibration.x_t_quantile__mutmut_3": "dtype dropped: numeric scores, squared "
    "and averaged as floats",
    "predictors.calibration.x_t_quantile__mutmut_5": "as above",
    "predictors.calibration.xǁCalibrationǁhalf_width__mutmut_2": "NaN either way: without a "
    "quantile q is NaN, and max(NaN, d0) is NaN",
    # --- mutB (session 6)
    # predictors/laws.py (mutB)
    "predictors.laws.x__condition__mutmut_3": "compute_uv=None is falsy, as False",
    "predictors.laws.x__condition__mutmut_13": "svd raises on a non-finite Jacobian, so s is "
    "always finite; s[-1] == 0 then gives s[0]/0 = inf anyway",
    "predictors.laws.x__condition__mutmut_19": "s[-1] == 0: s[0]/0 is inf as well",
    "predictors.laws.x__jacobian__mutmut_15": "finite-difference step floor: the condition "
    "number is compared with 1e12, far coarser than the step changes it",
    "predictors.laws.x__jacobian__mutmut_18": "backward difference over +h flips a column's "
    "sign: singular values are unchanged",
    "predictors.laws.x__multi_start__mutmut_13": "a 1-D x made a tuple of its scalars: numpy "
    "reads the tuple back as the same 1-D array in every law",
    "predictors.laws.x__multi_start__mutmut_27": "require_converged=None is falsy, as False",
    "predictors.laws.x__multi_start__mutmut_34": "screening iteration cap: the polish converges "
    "the best few fully",
    "predictors.laws.x__multi_start__mutmut_42": "as above",
    "predictors.laws.x__multi_start__mutmut_35": "screening tolerance: as above",
    "predictors.laws.x__multi_start__mutmut_33": "(left) the screen's loss: the polish refits "
    "the best few with the fit's own loss; no test has basins an L2 screen ranks differently",
    "predictors.laws.x__multi_start__mutmut_36": "(left) the screen dropping starts still moving "
    "after 100 iterations: every start converges by then in the tests",
    "predictors.laws.x__multi_start__mutmut_44": "as above",
    "predictors.laws.x__multi_start__mutmut_63": "(left) the Huber polish's success flag: no "
    "test has a Huber polish that fails (it counts in n_converged only)",
    "predictors.laws.x__multi_start__mutmut_89": "as above",
    "predictors.laws.x__multi_start__mutmut_86": "(left) a polish returning None: from a "
    "batched optimum scipy did not fail in any test, even capped at one evaluation",
    "predictors.laws.x__multi_start__mutmut_48": "a row batch_refit marks not ok has a "
    "non-finite cost or parameters, so obj is unusable (not < _UNUSABLE) either way",
    "predictors.laws.x__multi_start__mutmut_52": "zip of one batch's params and flags: equal length",
    "predictors.laws.x__multi_start__mutmut_55": "as above",
    "predictors.laws.x__multi_start__mutmut_56": "as above",
    "predictors.laws.x__multi_start__mutmut_58": "vals is inf, never exactly 1e300, for rows "
    "that are not ok; ok rows have a finite cost",
    "predictors.laws.x__multi_start__mutmut_91": "a polish that is not None has an objective "
    "< _UNUSABLE (fit_one_start checks), never equal",
    "predictors.laws.x__multi_start__mutmut_95": "a tie in objective between the polished and "
    "batched optimum: either is as good",
    "predictors.laws.x__residual_fn__mutmut_55": "|r| == delta: both Huber branches give delta^2/2",
    "predictors.laws.x_bootstrap_law__mutmut_3": "default refit iteration cap: a tuning "
    "constant (the cap itself is tested)",
    "predictors.laws.x_bootstrap_law__mutmut_6": "y dtype dropped: batch_refit casts y to float",
    "predictors.laws.x_bootstrap_law__mutmut_8": "as above",
    "predictors.laws.x_bootstrap_law__mutmut_63": "reshape(-2, k): numpy reads any negative "
    "size as 'infer', as -1",
    "predictors.laws.x_chinchilla_loss__mutmut_6": "typing.cast does nothing at run time",
    "predictors.laws.x_compute_loss__mutmut_1": "as above",
    "predictors.laws.x_gadre_loss__mutmut_6": "as above",
    "predictors.laws.x_sigmoid_log_compute__mutmut_16": "as above",
    "predictors.laws.x_single_step_accuracy__mutmut_17": "as above",
    "predictors.laws.x_exponential_compute__mutmut_4": "1e18 and 1e+18 are one literal",
    "predictors.laws.x_fit_law__mutmut_3": "default evaluation cap 10000 vs 10001: tuning (the "
    "cap itself is tested)",
    "predictors.laws.x_fit_law__mutmut_4": "1e12 + 1 is 1e12 to the digits a condition number "
    "is meaningful",
    "predictors.laws.x_fit_law__mutmut_11": "y dtype dropped: y is used only in float "
    "arithmetic and comparisons, which promote",
    "predictors.laws.x_fit_law__mutmut_13": "as above",
    "predictors.laws.x_fit_law__mutmut_20": "the empty fit's message: every return of it sets "
    "its own",
    "predictors.laws.x_fit_law__mutmut_35": "as above",
    "predictors.laws.x_fit_law__mutmut_69": "weights dtype dropped: sqrt makes them float",
    "predictors.laws.x_fit_law__mutmut_71": "as above",
    "predictors.laws.x_fit_law__mutmut_77": "bounds dtype dropped: they are only compared and "
    "clipped against, which promotes",
    "predictors.laws.x_fit_law__mutmut_79": "as above",
    "predictors.laws.x_fit_law__mutmut_82": "as above",
    "predictors.laws.x_fit_law__mutmut_84": "as above",
    "predictors.laws.x_fit_law__mutmut_91": "(left) ranking the starts of a weighted fit by "
    "the unweighted objective: no test has a weighted fit with two optima ranked differently",
    "predictors.laws.x_fit_law__mutmut_99": "start dtype dropped: every solver casts its start "
    "to float",
    "predictors.laws.x_fit_law__mutmut_101": "as above",
    "predictors.laws.x_fit_law__mutmut_163": "v == _UNUSABLE cannot happen: fit_one_start "
    "returns None where the law is unusable",
    "predictors.laws.x_fit_law__mutmut_168": "a tie in objective between two starts: either "
    "optimum is as good",
    "predictors.laws.x_fit_law__mutmut_170": "best is not None implies a finite best_val "
    "< _UNUSABLE: the other clauses never decide",
    "predictors.laws.x_fit_law__mutmut_171": "as above",
    "predictors.laws.x_fit_law__mutmut_175": "as above",
    "predictors.laws.x_fit_law__mutmut_187": "astype(None) is float64, as astype(float)",
    "predictors.laws.x_fit_law__mutmut_189": "astype(None) is float64, as astype(float)",
    "predictors.laws.x_fit_one_start__mutmut_3": "default evaluation cap 10000 vs 10001: tuning",
    "predictors.laws.x_fit_one_start__mutmut_6": "start dtype dropped: scipy casts it to float",
    "predictors.laws.x_fit_one_start__mutmut_8": "as above",
    "predictors.laws.x_fit_one_start__mutmut_13": "simplefilter without a category: only "
    "Optimize/RuntimeWarnings arise in that block",
    "predictors.laws.x_fit_one_start__mutmut_19": "as above",
    "predictors.laws.x_fit_one_start__mutmut_30": "a common factor in sigma (absolute_sigma "
    "False) does not move the weighted optimum",
    "predictors.laws.x_fit_one_start__mutmut_33": "scipy's curve_fit passes maxfev on as "
    "max_nfev for bounded methods too",
    "predictors.laws.x_fit_one_start__mutmut_71": "minimize's default method is L-BFGS-B "
    "with bounds and BFGS without: the same optimum",
    "predictors.laws.x_fit_one_start__mutmut_76": "as above",
    "predictors.laws.x_fit_one_start__mutmut_80": "scipy reads the method name case-insensitively",
    "predictors.laws.x_fit_one_start__mutmut_85": "zip of lower and upper bounds: equal length",
    "predictors.laws.x_fit_one_start__mutmut_87": "as above",
    "predictors.laws.x_fit_one_start__mutmut_88": "as above",
    "predictors.laws.x_fit_one_start__mutmut_102": "scipy returns float parameters",
    "predictors.laws.x_fit_one_start__mutmut_104": "as above",
    "predictors.laws.x_fit_one_start__mutmut_110": "the laws return float arrays",
    "predictors.laws.x_fit_one_start__mutmut_112": "as above",
    "predictors.laws.x_invert_sigmoid_accuracy__mutmut_3": "score dtype dropped: (s - b) / a "
    "is float",
    "predictors.laws.x_invert_sigmoid_accuracy__mutmut_5": "as above",
    "predictors.laws.x_invert_sigmoid_accuracy__mutmut_9": "errstate: warnings only, the "
    "values are the same",
    "predictors.laws.x_invert_sigmoid_accuracy__mutmut_10": "as above",
    "predictors.laws.x_invert_sigmoid_accuracy__mutmut_11": "as above",
    "predictors.laws.x_invert_sigmoid_accuracy__mutmut_12": "as above",
    "predictors.laws.x_percentile_interval__mutmut_3": "samples dtype dropped: isfinite and "
    "quantile read ints too",
    "predictors.laws.x_percentile_interval__mutmut_5": "as above",
    "predictors.laws.x_sigmoid_accuracy__mutmut_3": "the lower clip: exp(-500) and exp(-z) for "
    "z > 500 both vanish next to 1",
    "predictors.laws.x_sigmoid_accuracy__mutmut_13": "as above",
    "predictors.laws.x_sigmoid_log_compute__mutmut_3": "as above",
    "predictors.laws.x_sigmoid_log_compute__mutmut_14": "as above",
    "predictors.laws.x_single_step_accuracy__mutmut_27": "as above",
    "predictors.laws.x_single_step_accuracy__mutmut_34": "as above",
    "predictors.laws.xǁLawFitǁas_dict__mutmut_4": "zip of names and params: equal length by "
    "construction",
    "predictors.laws.xǁLawFitǁas_dict__mutmut_7": "as above",
    "predictors.laws.xǁLawFitǁas_dict__mutmut_8": "as above",
    # predictors/ladder.py (mutB)
    "predictors.ladder.x__compute_or_none__mutmut_16": "c == 0 is falsy at the caller: None "
    "either way",
    "predictors.ladder.x__step1_grid__mutmut_4": "multi-start grid: another start that reaches "
    "the same optimum",
    "predictors.ladder.x__step1_grid__mutmut_5": "as above",
    "predictors.ladder.x__step1_grid__mutmut_6": "as above",
    "predictors.ladder.x__step1_grid__mutmut_7": "as above",
    "predictors.ladder.x__step1_grid__mutmut_8": "as above",
    "predictors.ladder.x__step1_grid__mutmut_9": "as above",
    "predictors.ladder.x__step1_grid__mutmut_10": "as above",
    "predictors.ladder.x__step1_grid__mutmut_11": "as above",
    "predictors.ladder.x__step1_grid__mutmut_12": "as above",
    "predictors.ladder.x__step1_grid__mutmut_13": "as above",
    "predictors.ladder.x__step1_grid__mutmut_14": "as above",
    "predictors.ladder.x__step1_grid__mutmut_15": "as above",
    "predictors.ladder.x__step1_grid__mutmut_16": "as above",
    "predictors.ladder.x__step1_grid__mutmut_17": "as above",
    "predictors.ladder.x__step1_grid__mutmut_18": "as above",
    "predictors.ladder.x__step1_grid__mutmut_19": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_spec__mutmut_13": "a sigmoid start: as _step1_grid",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_spec__mutmut_14": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_spec__mutmut_15": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_spec__mutmut_16": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_spec__mutmut_17": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_spec__mutmut_18": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_spec__mutmut_19": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_spec__mutmut_20": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_spec__mutmut_21": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_spec__mutmut_4": "the start's chance level, "
    "derived from the data: as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_spec__mutmut_5": "strictly equivalent: chance clipped to [0, 2] not [0, 1]; a min score above 1 gives a start a = chance - 1 > 0, which fit_law clips into the box (a <= 0) to the same a = 0",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_spec__mutmut_10": "strictly equivalent: no lower clip of chance; a min score below 0 gives a start a < -1, which fit_law clips into the box (a >= -1) to the same a = -1",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_spec__mutmut_11": "strictly equivalent: as mutmut_5 (no upper clip of chance)",
    "predictors.ladder.xǁTwoStepLadderǁ_bootstrap__mutmut_48": "the step-1 refit cap: 200 "
    "(the default) or 301 iterations for 300, a tuning constant (see the comment there)",
    "predictors.ladder.xǁTwoStepLadderǁ_bootstrap__mutmut_54": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step1_points__mutmut_3": "groupby order: the "
    "trajectories are sorted by model already",
    "predictors.ladder.xǁTwoStepLadderǁ_step1_points__mutmut_5": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step1_points__mutmut_8": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_points__mutmut_3": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_points__mutmut_5": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step2_points__mutmut_8": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step1_points__mutmut_11": "one checkpoint: "
    "int(1 * drop_first) = 0 for drop_first <= 0.99, nothing is dropped either way",
    "predictors.ladder.xǁTwoStepLadderǁ_step1_points__mutmut_14": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step1_points__mutmut_32": "the step-1 frame's index: "
    "it is read by position only (to_numpy)",
    "predictors.ladder.xǁTwoStepLadderǁ_step1_points__mutmut_34": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_step1_points__mutmut_35": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_trajectories__mutmut_31": "a missing step filled "
    "with None: the fillna(0) below makes it 0",
    "predictors.ladder.xǁTwoStepLadderǁ_trajectories__mutmut_60": "merge on the common "
    "columns: exactly the key",
    "predictors.ladder.xǁTwoStepLadderǁ_trajectories__mutmut_63": "as above",
    "predictors.ladder.xǁTwoStepLadderǁ_trajectories__mutmut_64": "how='inner' is merge's default",
    "predictors.ladder.xǁTwoStepLadderǁ_x__mutmut_5": "to_numpy(None) of float columns",
    "predictors.ladder.xǁTwoStepLadderǁ_x__mutmut_6": "as above",
    "predictors.ladder.xǁTwoStepLadderǁfit__mutmut_16": "as above",
    "predictors.ladder.xǁTwoStepLadderǁpredict__mutmut_3": "input='flops' with the n_params "
    "size: [n_params, n_tokens] is the same need, and target_rows' flops is NaN either way "
    "(compute_of falls back to 6 N D)",
    "predictors.ladder.xǁTwoStepLadderǁpredict__mutmut_12": "as above",
    "predictors.ladder.xǁTwoStepLadderǁpredict__mutmut_13": "as above",
    # --- mutC (session 6)
    # mutC: equivalent survivors of predictors/cod_law.py (tests/unit/test_cod_law_rules.py)
    # predictors/cod_law.py
    "predictors.cod_law.x_cod_curve__mutmut_7": "typing.cast does nothing at run time",
    "predictors.cod_law.xǁLawFitǁ__call____mutmut_13": "dtype dropped: dividing by the float unit "
    "gives floats, and cod_curve converts to float anyway",
    "predictors.cod_law.xǁLawFitǁ__call____mutmut_15": "as mutmut_13",
    "predictors.cod_law.x_fit_cod_law__mutmut_1": "1e18 and 1e+18 are one literal",
    "predictors.cod_law.x_fit_cod_law__mutmut_10": "dtype of y dropped: cod_curve(...) - y is "
    "float whatever y's numeric dtype",
    "predictors.cod_law.x_fit_cod_law__mutmut_12": "as mutmut_10",
    "predictors.cod_law.x_fit_cod_law__mutmut_34": "typing.cast does nothing at run time",
    "predictors.cod_law.x_fit_cod_law__mutmut_106": "multi-start grid (g starts): another start "
    "that reaches the same optimum is equivalent",
    "predictors.cod_law.x_fit_cod_law__mutmut_107": "as mutmut_106",
    "predictors.cod_law.x_fit_cod_law__mutmut_109": "multi-start grid (a, b, c starts): as "
    "mutmut_106",
    "predictors.cod_law.x_fit_cod_law__mutmut_110": "as mutmut_109",
    "predictors.cod_law.x_fit_cod_law__mutmut_111": "as mutmut_109",
    "predictors.cod_law.x_fit_cod_law__mutmut_112": "as mutmut_109",
    "predictors.cod_law.x_fit_cod_law__mutmut_113": "as mutmut_109",
    "predictors.cod_law.x_fit_cod_law__mutmut_114": "as mutmut_109",
    "predictors.cod_law.x_fit_cod_law__mutmut_115": "as mutmut_109",
    "predictors.cod_law.x_fit_cod_law__mutmut_116": "as mutmut_109",
    "predictors.cod_law.x_fit_cod_law__mutmut_117": "as mutmut_109",
    "predictors.cod_law.x_fit_cod_law__mutmut_118": "as mutmut_109",
    "predictors.cod_law.x_fit_cod_law__mutmut_119": "as mutmut_109",
    "predictors.cod_law.x_fit_cod_law__mutmut_120": "as mutmut_109",
    "predictors.cod_law.x_fit_cod_law__mutmut_141": "unreachable: there is always a start (the "
    "warm one or the grid), so 'no start point' is always overwritten or unused",
    "predictors.cod_law.x_fit_cod_law__mutmut_142": "as mutmut_141",
    "predictors.cod_law.x_fit_cod_law__mutmut_143": "as mutmut_141",
    "predictors.cod_law.x_fit_cod_law__mutmut_152": "start clip margin at the lower bounds: the "
    "+1e-15 keeps every start >= the bound whatever the factor (starts below it are tested)",
    "predictors.cod_law.x_fit_cod_law__mutmut_154": "as mutmut_152",
    "predictors.cod_law.x_fit_cod_law__mutmut_155": "as mutmut_152",
    "predictors.cod_law.x_fit_cod_law__mutmut_156": "as mutmut_152",
    "predictors.cod_law.x_fit_cod_law__mutmut_169": "max_nfev: evaluation cap, an optimiser "
    "tuning constant (fits in tests converge well within 200)",
    "predictors.cod_law.x_fit_cod_law__mutmut_172": "analytic Jacobian dropped: scipy's "
    "finite differences reach the same optimum (tests compare optima, not speed)",
    "predictors.cod_law.x_fit_cod_law__mutmut_174": "method='trf' is least_squares' default",
    "predictors.cod_law.x_fit_cod_law__mutmut_175": "as mutmut_169",
    "predictors.cod_law.x_fit_cod_law__mutmut_178": "as mutmut_169",
    "predictors.cod_law.x_fit_cod_law__mutmut_184": "<= on equal costs: a tie keeps a start "
    "with the same cost, the same optimum",
    "predictors.cod_law.xǁSubsetMappingǁ__call____mutmut_9": "dtype dropped: np.clip with float "
    "bounds returns float64",
    "predictors.cod_law.xǁSubsetMappingǁ__call____mutmut_11": "as mutmut_9",
    "predictors.cod_law.xǁSubsetMappingǁ__call____mutmut_42": "upper clip of the secant's ends: "
    "the tail is capped at 1 and the slope floored at 0, so y0 or y1 above 1 gives the same tail",
    "predictors.cod_law.xǁSubsetMappingǁ__call____mutmut_49": "as mutmut_42",
    "predictors.cod_law.xǁSubsetMappingǁ__call____mutmut_66": "s >= x1: at s = x1 the tail is "
    "y1 = clip(fn(x1)), the curve's own value",
    "predictors.cod_law.xǁSubsetMappingǁto_dict__mutmut_19": "zip of equal-length sequences "
    "(x and y of one mapping; the grid and the curve on it)",
    "predictors.cod_law.xǁSubsetMappingǁto_dict__mutmut_22": "as mutmut_19",
    "predictors.cod_law.xǁSubsetMappingǁto_dict__mutmut_23": "as mutmut_19",
    "predictors.cod_law.xǁSubsetMappingǁto_dict__mutmut_34": "as mutmut_19",
    "predictors.cod_law.xǁSubsetMappingǁto_dict__mutmut_37": "as mutmut_19",
    "predictors.cod_law.xǁSubsetMappingǁto_dict__mutmut_39": "as mutmut_19",
    "predictors.cod_law.x__is_monotone__mutmut_10": "grid resolution 1002 for 1001 points: both "
    "step by ~0.001 (a dip 0.001 wide is tested; 50 points are killed)",
    "predictors.cod_law.x_fit_mapping__mutmut_8": "dtype dropped: concatenated with float pins, "
    "the result is float64",
    "predictors.cod_law.x_fit_mapping__mutmut_10": "as mutmut_8",
    "predictors.cod_law.x_fit_mapping__mutmut_16": "as mutmut_8",
    "predictors.cod_law.x_fit_mapping__mutmut_18": "as mutmut_8",
    "predictors.cod_law.x_fit_mapping__mutmut_42": "halving cap 61 for 60: accuracies in [0, 1] "
    "give s0 <= n/4, so s < 1e-14 stops the loop first for fewer than ~46000 points",
    "predictors.cod_law.x_fit_mapping__mutmut_46": "simplefilter without a category: only "
    "FITPACK's UserWarnings arise in that block",
    "predictors.cod_law.x_fit_mapping__mutmut_58": "k=3 is UnivariateSpline's default",
    "predictors.cod_law.x_fit_mapping__mutmut_71": "s <= 1e-14: s0 / 2**k equal to 1e-14 exactly "
    "does not arise",
    "predictors.cod_law.x_fit_mapping__mutmut_114": "len(x) >= 2 always: the pins (0, 0) and "
    "(1, 1) stay two distinct points after merging ties",
    "predictors.cod_law.x_fit_cod_law__mutmut_68": "Jacobian column of b scaled by (1+g)/(1-g) "
    "> 0 (g in [0, 0.999]): a column scaled by a positive factor leaves J^T r = 0, so the "
    "optimum, unchanged (steps differ only)",
    "predictors.cod_law.x_fit_cod_law__mutmut_72": "as mutmut_68 (the column of c)",
    # predictors/cod_clustering.py (tests/unit/test_cod_clustering_rules.py)
    "predictors.cod_clustering.x_cod_bandwidth__mutmut_2": "random_state of estimate_bandwidth: "
    "read only when it subsamples (n_samples given), never here",
    "predictors.cod_clustering.x_cod_bandwidth__mutmut_15": "as mutmut_2",
    "predictors.cod_clustering.x_cod_bandwidth__mutmut_18": "as mutmut_2",
    "predictors.cod_clustering.x_cluster_items__mutmut_9": "as x_cod_bandwidth__mutmut_2",
    "predictors.cod_clustering.x_cluster_items__mutmut_12": "as x_cod_bandwidth__mutmut_2",
    "predictors.cod_clustering.x_cluster_items__mutmut_5": "default seed 1 for 0: it reaches "
    "only estimate_bandwidth (unused, as above) and KMeans (as x_kmeans_labels__mutmut_1)",
    "predictors.cod_clustering.x_cluster_items__mutmut_45": "KMeans seed: as "
    "x_kmeans_labels__mutmut_1",
    "predictors.cod_clustering.x_cluster_items__mutmut_48": "as mutmut_45",
    "predictors.cod_clustering.x_kmeans_labels__mutmut_1": "KMeans seed (default 1 for 0): "
    "n_init=10 restarts reach the same partition of separated clusters whatever the seed",
    "predictors.cod_clustering.x_kmeans_labels__mutmut_17": "as mutmut_1 (seed None)",
    "predictors.cod_clustering.x_kmeans_labels__mutmut_20": "as mutmut_1 (seed None)",
    "predictors.cod_clustering.x_kmeans_labels__mutmut_19": "n_init (restarts) of KMeans: a "
    "tuning constant; another count reaches the same partition",
    "predictors.cod_clustering.x_kmeans_labels__mutmut_21": "as mutmut_19",
    "predictors.cod_clustering.x_improved_mean_shift__mutmut_2": "default round cap 51 for 50: "
    "the loop settles in a few rounds (the cap itself is tested with max_iter=1)",
    "predictors.cod_clustering.x_improved_mean_shift__mutmut_9": "dtype int dropped: "
    "np.full(n, -1) is an integer array already",
    "predictors.cod_clustering.x_improved_mean_shift__mutmut_12": "as mutmut_9",
    "predictors.cod_clustering.x_improved_mean_shift__mutmut_38": "start = max + 1 always: with "
    "no label yet max is -1, so max + 1 is the else branch's 0",
    "predictors.cod_clustering.x_improved_mean_shift__mutmut_40": "offset max + 2: new labels "
    "still collide with none, and _renumber numbers clusters 0..k-1 by size anyway",
    "predictors.cod_clustering.x_improved_mean_shift__mutmut_41": "(labels == -1).any(): "
    "free points exist, so it is true whenever the branch runs, and with no label yet max + 1 "
    "= 0 (as mutmut_38)",
    "predictors.cod_clustering.x_improved_mean_shift__mutmut_42": "first labels from 1 for 0: "
    "_renumber numbers clusters 0..k-1 by size anyway",
    # --- mutD (session 6)
    # mutD fragment: equivalent survivors, to merge into EQUIVALENT in bench/report_mutation.py
    # predictors/passuntil_law.py
    "predictors.passuntil_law.x_F_of__mutmut_1": "typing.cast does nothing at run time",
    "predictors.passuntil_law.x_pu_of_F__mutmut_1": "as x_F_of__mutmut_1 (typing.cast)",
    "predictors.passuntil_law.x_sampling_var_F__mutmut_52": "as x_F_of__mutmut_1 (typing.cast)",
    "predictors.passuntil_law.x_upper_bound_zero__mutmut_7": "as x_F_of__mutmut_1 (typing.cast)",
    "predictors.passuntil_law.x_sampling_var_F__mutmut_3": "dtype of the counts dropped: (s + 0.5) / (n + 1.0) and max(n, 1.0) promote to float64 whatever n's float dtype, and integer counts are exact in any",
    "predictors.passuntil_law.x_sampling_var_F__mutmut_5": "as sampling_var_F__mutmut_3",
    "predictors.passuntil_law.x_sampling_var_F__mutmut_7": "as sampling_var_F__mutmut_3",
    "predictors.passuntil_law.x_sampling_var_F__mutmut_9": "as sampling_var_F__mutmut_3",
    "predictors.passuntil_law.x_binomial_lines__mutmut_4": "z's dtype: a float32 z minus its mean is exact (Sterbenz), and the centre is added back at the end: the intercept at z = 0 depends on the centre only through the 1e-4 b0^2 penalty",
    "predictors.passuntil_law.x_binomial_lines__mutmut_6": "as binomial_lines__mutmut_4",
    "predictors.passuntil_law.x_binomial_lines__mutmut_10": "as sampling_var_F__mutmut_3 (counts' dtype: every use promotes to float64)",
    "predictors.passuntil_law.x_binomial_lines__mutmut_12": "as binomial_lines__mutmut_10",
    "predictors.passuntil_law.x_binomial_lines__mutmut_15": "as binomial_lines__mutmut_10",
    "predictors.passuntil_law.x_binomial_lines__mutmut_17": "as binomial_lines__mutmut_10",
    "predictors.passuntil_law.x__binomial_terms__mutmut_10": "errstate(divide): no division by zero arises (log of max(., 1e-300); u = e^F > 0 after the F clip, so expm1(u) > 0)",
    "predictors.passuntil_law.x__binomial_terms__mutmut_11": "errstate(invalid): no invalid operation arises (u finite; u / inf is 0)",
    "predictors.passuntil_law.x__binomial_terms__mutmut_13": "as _binomial_terms__mutmut_10",
    "predictors.passuntil_law.x__binomial_terms__mutmut_14": "as _binomial_terms__mutmut_11",
    "predictors.passuntil_law.x_tobit_line__mutmut_41": "lstsq's rcond=None is numpy 2's default",
    "predictors.passuntil_law.x_tobit_line__mutmut_69": "mu_c exactly 4 sd above a bound: measure zero, and the MLE there equals OLS to ~1e-4 sd",
    "predictors.passuntil_law.x_tobit_line__mutmut_121": "optimiser tuning: scipy's default (BFGS) reaches the same censored-normal MLE (checked to 1e-7)",
    "predictors.passuntil_law.x_tobit_line__mutmut_125": "as tobit_line__mutmut_121",
    "predictors.passuntil_law.x_tobit_line__mutmut_127": "another start of Nelder-Mead (beta1 for beta0): the same optimum to 1e-7",
    "predictors.passuntil_law.x_tobit_line__mutmut_131": "scipy lower-cases the method name",
    "predictors.passuntil_law.x_tobit_line__mutmut_132": "as tobit_line__mutmut_131",
    "predictors.passuntil_law.x_tobit_line__mutmut_136": "fatol: Nelder-Mead stops when both xatol and fatol hold; xatol 1e-8 binds",
    "predictors.passuntil_law.x_tobit_line__mutmut_137": "as tobit_line__mutmut_136",
    "predictors.passuntil_law.x_tobit_line__mutmut_138": "as tobit_line__mutmut_136",
    "predictors.passuntil_law.x_tobit_line__mutmut_139": "maxiter: converges in far fewer",
    "predictors.passuntil_law.x_tobit_line__mutmut_140": "as tobit_line__mutmut_139",
    "predictors.passuntil_law.x_tobit_line__mutmut_141": "as tobit_line__mutmut_139",
    "predictors.passuntil_law.x_curvature_test__mutmut_40": "z + mean for z - mean: a shift of x leaves a quadratic fit's x^2 coefficient and its residuals unchanged",
    "predictors.passuntil_law.x_curvature_test__mutmut_49": "an empty boot_F gives an empty mask either way",
    "predictors.passuntil_law.x_curvature_test__mutmut_57": "dtype of an empty mask: its sum and any() are 0/False either way",
    "predictors.passuntil_law.x_curvature_test__mutmut_59": "as curvature_test__mutmut_57",
    "predictors.passuntil_law.x_curvature_test__mutmut_60": "mask [False] for []: sums to 0 and any() is False, the same fallbacks (boot_F[ok] is never evaluated)",
    "predictors.passuntil_law.x_curvature_test__mutmut_121": "rows of an all-False mask: an empty list gives an empty reps either way",
    "predictors.passuntil_law.x_curvature_test__mutmut_151": "mean of no reps is NaN either way",
    "predictors.passuntil_law.x_curvature_test__mutmut_173": "quadratic coefficient exactly 0.0: the quadratic fit is then the linear one (AIC gain -2 < min_delta_aic's default), and measure zero otherwise",
    "predictors.passuntil_law.x_binomial_lines__mutmut_22": "start of a concave maximisation (p_hat's lower clip: (s + 0.5) / (n + 1) > 0 anyway); the damped Newton iteration reaches the same optimum (checked to 2e-7)",
    "predictors.passuntil_law.x_binomial_lines__mutmut_27": "start of the Newton iteration (p_hat's formula): the same optimum (checked to 2e-7 against BFGS)",
    "predictors.passuntil_law.x_binomial_lines__mutmut_28": "as binomial_lines__mutmut_27",
    "predictors.passuntil_law.x_binomial_lines__mutmut_29": "as binomial_lines__mutmut_27",
    "predictors.passuntil_law.x_binomial_lines__mutmut_30": "as binomial_lines__mutmut_27",
    "predictors.passuntil_law.x_binomial_lines__mutmut_31": "as binomial_lines__mutmut_27",
    "predictors.passuntil_law.x_binomial_lines__mutmut_32": "as binomial_lines__mutmut_27",
    "predictors.passuntil_law.x_binomial_lines__mutmut_61": "the line search's tiny b0 penalty (1e-4 b0^2): the Newton steps come from the exact gradient; the same optimum to < 1e-12 on the tests' items",
    "predictors.passuntil_law.x_binomial_lines__mutmut_70": "as binomial_lines__mutmut_61",
    "predictors.passuntil_law.x_binomial_lines__mutmut_78": "iteration cap 101 for 100: converges in far fewer",
    "predictors.passuntil_law.x_binomial_lines__mutmut_108": "Newton step's curvature (sign of the 2e-4 term): still a descent direction; the halving line search reaches the same optimum (to 1e-10)",
    "predictors.passuntil_law.x_binomial_lines__mutmut_127": "as binomial_lines__mutmut_108 (3 ridge for 2 ridge in h11; to 3e-9)",
    "predictors.passuntil_law.x_binomial_lines__mutmut_133": "as binomial_lines__mutmut_108 (det with + h01^2; to 2e-10)",
    "predictors.passuntil_law.x_binomial_lines__mutmut_140": "(left) cross term's sign in step0: still a descent direction, converging linearly (h01 is small with centred z) to 3e-10 of the optimum; killing it needs a reference optimum good to 1e-10 in test_binomial_lines_maximise_the_penalised_likelihood (BFGS's is ~2e-8 off on the never-passed item)",
    "predictors.passuntil_law.x_binomial_lines__mutmut_144": "(left) as binomial_lines__mutmut_140, in step1 (to 7e-9 of the optimum)",
    "predictors.passuntil_law.x_binomial_lines__mutmut_152": "a step of exactly 0 in the slope: then the joint Newton step in the intercept is g0 / h00 itself (h00 g1 = h01 g0 makes (h11 g0 - h01 g1) / det = g0 / h00), so holding it changes nothing",
    "predictors.passuntil_law.x_binomial_lines__mutmut_156": "as binomial_lines__mutmut_152, at the upper bound",
    "predictors.passuntil_law.x_binomial_lines__mutmut_157": "(left) an inward slope step under 1 at the upper bound also held: not equivalent in principle (an iterate clipped onto +20 whose optimum lies less than 1 inside would stay there), but no tried data puts an iterate on the bound with the optimum inside: Newton from the prior slope approaches from inside (noiseless slopes 19 to 19.95 recovered, also from a prior of 20)",
    "predictors.passuntil_law.x_binomial_lines__mutmut_166": "the held slope keeps its outward step: the clip puts the slope back on the bound, so the iterate is the same; only the stopping test sees the step (the iteration cap stops it, at the same optimum)",
    "predictors.passuntil_law.x_binomial_lines__mutmut_176": "41 halvings for 40: line-search tuning",
    "predictors.passuntil_law.x_binomial_lines__mutmut_200": "an exactly equal objective: measure zero (accepting it moves by < 1e-12)",
    "predictors.passuntil_law.x_binomial_lines__mutmut_202": "acceptance slack: Newton steps near the optimum decrease the objective; same optimum",
    "predictors.passuntil_law.x_binomial_lines__mutmut_213": "t/3 for t/2: line-search tuning",
    "predictors.passuntil_law.x_binomial_lines__mutmut_214": "'done' needs no improving step after 40 halvings (t = 2^-40), which only a NaN objective gives: taking or keeping such a step moves an item by ~1e-12",
    "predictors.passuntil_law.x_binomial_lines__mutmut_216": "as binomial_lines__mutmut_214",
    "predictors.passuntil_law.x_binomial_lines__mutmut_222": "as binomial_lines__mutmut_214",
    "predictors.passuntil_law.x_binomial_lines__mutmut_229": "as binomial_lines__mutmut_214",
    "predictors.passuntil_law.x_binomial_lines__mutmut_230": "as binomial_lines__mutmut_214 (obj of a done item set to None is read only if some item is done)",
    "predictors.passuntil_law.x_binomial_lines__mutmut_238": "stopping rule: t/step never stops early, the iteration cap does, at the same optimum",
    "predictors.passuntil_law.x_binomial_lines__mutmut_240": "as binomial_lines__mutmut_238",
    "predictors.passuntil_law.x_binomial_lines__mutmut_241": "a step of exactly 1e-9: measure zero",
    # predictors/passuntil.py
    "predictors.passuntil.x_task_points__mutmut_5": "zeros_like(None, bool) is a 0-d False: "
    "it broadcasts in r_reached & (s >= 2) as the full array does",
    "predictors.passuntil.xǁPassUntilForecasterǁ_counts__mutmut_56": "astype(None) is float64",
    "predictors.passuntil.xǁPassUntilForecasterǁ_counts__mutmut_57": "as above",
    "predictors.passuntil.xǁPassUntilForecasterǁ_forecast__mutmut_91": "reset_index(names=None) "
    "takes the index's own name, 'model' (points_ is indexed by the groupby on model)",
    "predictors.passuntil.xǁPassUntilForecasterǁ_forecast__mutmut_95": "pandas reads orient "
    "case-insensitively",
    "predictors.passuntil.xǁPassUntilForecasterǁ_weights__mutmut_5": "a constant factor on the "
    "weights: tobit_line normalises them to mean 1",
    "predictors.passuntil.xǁPassUntilForecasterǁ_with_scatter__mutmut_27": "ljust(9): the extra "
    "zero byte is the most significant in little-endian, the same seed",
    "predictors.passuntil.xǁPassUntilForecasterǁ_with_scatter__mutmut_37": "clip of a draw of "
    "exactly 0 (PU below e^-e^30): PU ~1e-300 or 0 either way",
    "predictors.passuntil.xǁPassUntilForecasterǁ_with_scatter__mutmut_38": "upper clip: draws "
    "are <= 1 - 9e-14 (F >= -30), the PU moves by < 1e-12",
    "predictors.passuntil.xǁPassUntilForecasterǁ_with_scatter__mutmut_43": "as above",
    "predictors.passuntil.xǁPassUntilForecasterǁ_with_scatter__mutmut_44": "as above",
    "predictors.passuntil.xǁPassUntilForecasterǁ_xs__mutmut_4": "x_ is set in fit before _xs "
    "is first called; predict needs a fit",
    "predictors.passuntil.xǁPassUntilForecasterǁ_xs__mutmut_7": "as above",
    "predictors.passuntil.xǁPassUntilForecasterǁ_xs__mutmut_20": "n_params is numeric already: "
    "resolve_inputs/conform_targets refuse rows without a finite one",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_107": "astype(None) of bools is "
    "float64, as astype(float)",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_125": "as above",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_218": "aggfunc mean for max of 0/1 "
    "flags: rr_ only asks > 0",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_235": "to_numpy(None) of a float "
    "frame is float64",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_236": "as above",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_238": "as above",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_247": "as above",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_251": "as above",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_86": "fill -2 for -1: steps are "
    ">= 0, any negative fill ranks a missing step first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_370": "column count of the empty "
    "boot_F: never read when there are no replicates",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_33": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_34": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_35": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_36": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_37": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_38": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_39": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_40": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_41": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_42": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_43": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_44": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_45": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_46": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    "predictors.passuntil.xǁPassUntilForecasterǁfit__mutmut_47": "unreachable: resolve_inputs (series_rows) refuses a frame without this series' per-item rows first",
    # predictors/densing.py (rules only, start grids skipped: 647 mutants, 19 survived)
    "predictors.densing.x_plot_densing__mutmut_3": "matplotlib reads backend names "
    "case-insensitively",
    "predictors.densing.x_plot_densing__mutmut_4": "as above",
    "predictors.densing.x_plot_densing__mutmut_84": "pandas reads unit 'd' as 'D' (days)",
    "predictors.densing.xǁDensityReferenceǁfit__mutmut_43": "astype(None) is float64, as astype(float)",
    "predictors.densing.xǁDensityReferenceǁfit__mutmut_45": "to_numpy(None) for to_numpy(float): densing_loss converts N and D with np.asarray(dtype=float)",
    "predictors.densing.xǁDensityReferenceǁfit__mutmut_46": "as mutmut_45 (D)",
    "predictors.densing.xǁDensityReferenceǁfit__mutmut_77": "merge's default on= is the common columns, which are exactly key (value is renamed L and S on the two sides)",
    "predictors.densing.xǁDensityReferenceǁfit__mutmut_79": "as mutmut_77",
    "predictors.densing.xǁDensityReferenceǁeffective_size__mutmut_18": "np.asarray(scores, None) for float: as_score converts with np.asarray(dtype=float)",
    "predictors.densing.xǁDensityReferenceǁeffective_size__mutmut_20": "as mutmut_18",
    "predictors.densing.x_density_table__mutmut_6": "to_numpy(None) for float: effective_size converts the scores with np.asarray(dtype=float)",
    "predictors.densing.x_density_table__mutmut_15": "astype(None) is float64, as astype(float)",
    "predictors.densing.x_density_table__mutmut_42": "to_numpy(None) for float: as_score converts with np.asarray(dtype=float)",
    "predictors.densing.x_fit_densing_law__mutmut_7": "astype(None) is float64, as astype(float)",
    "predictors.densing.x_running_max__mutmut_11": "astype(None) is float64, as astype(float)",
    "predictors.densing.x_fit_densing_law__mutmut_28": "days as int64 for float64: sm.add_constant stacks them with a float column of ones, so OLS sees the same float64 design",
    "predictors.densing.x_fit_densing_law__mutmut_67": "days as int64 for float64: np.ptp of whole days is 0 exactly when the float one is, and np.polyfit adds 0.0 to x (float64)",
    "predictors.densing.xǁDensingResultǁto_dict__mutmut_32": "pandas lower-cases to_dict's orient ('RECORDS' is 'records')",
    "predictors.densing.x_plot_densing__mutmut_62": "np.linspace's default num is 50",
    # db/observations.py (its MODULES entry: 541 mutants, 14 survived)
    "db.observations.x__not_utf8__mutmut_2": "unreachable: a line that fails to decode in the text stream fails alone (no UTF-8 sequence spans a newline), so the loop always raises",
    "db.observations.x__open_text__mutmut_15": "codec names are case-insensitive: UTF-8-SIG is utf-8-sig",
    "db.observations.x__open_text__mutmut_22": "codec names are case-insensitive: UTF-8-SIG is utf-8-sig",
    "db.observations.x__read_csv__mutmut_80": "with len(record) == len(header), the padding adds [''] * 0, nothing",
    "db.observations.x__unclosed_quote__mutmut_10": "opened's initial value is never returned: state reaches 'quoted' only where opened is assigned",
    "db.observations.x__unclosed_quote__mutmut_11": "opened's initial value is never returned: state reaches 'quoted' only where opened is assigned",
    "db.observations.x__unclosed_quote__mutmut_56": "the 'field' state is only ever compared as 'not start/quoted/quote', so any other value behaves the same",
    "db.observations.x__unclosed_quote__mutmut_57": "the 'field' state is only ever compared as 'not start/quoted/quote', so any other value behaves the same",
    "db.observations.x__unclosed_quote__mutmut_58": "the 'field' state is only ever compared as 'not start/quoted/quote', so any other value behaves the same",
    "db.observations.x__unclosed_quote__mutmut_8": "opened's initial value is never returned: state reaches 'quoted' only where opened is assigned",
    "db.observations.x__unclosed_quote__mutmut_9": "opened's initial value is never returned: state reaches 'quoted' only where opened is assigned",
    "db.observations.x__utf8_lines__mutmut_24": "codec names are case-insensitive: UTF-8-SIG is utf-8-sig",
    "db.observations.x__utf8_lines__mutmut_28": "codec names are case-insensitive: UTF-8 is utf-8",
    "db.observations.x__utf8_lines__mutmut_6": "gzip.open's default mode is 'rb'",
    # --- mutE (session 6)
    # mutE fragment (predictors/observational_fit.py, predictors/observational.py). Lines for EQUIVALENT.
    # Measured with: bench/report_mutation.py --max-children 1 --no-diffs --tests <the module's *_rules.py> -- <module>
    # Proposed SKIP_PATTERNS (lead's call; the repo already skips "a start derived from the data"):
    # the link fit's linear-logit start and its clip into the box. Skipping them removes 70 mutants
    # of predictors/observational_fit.py, 22 of them survivors above (74..129 and 153/154/157),
    # which would leave 26 / 278 = 9.4% there.
    #   r"f0 = float\(np\.clip\(floor if floor": "start of the link fit: " + reason below
    #   r"c0 = float\(np\.clip\(ceiling if ceiling": as above
    #   r"frac = np\.clip\(\(y - f0\)": as above
    #   r"coef = np\.linalg\.lstsq\(design, np\.log\(frac": as above
    #   r"x0 = np\.clip\(x0, lower \+ eps / 10": "margin of the start inside the box"
    # predictors/observational_fit.py
    "predictors.observational_fit.x__link_jac__mutmut_14": "clip of z at +50: exp(-z) for z > 50 is < 2e-22, so the sigmoid is 1.0 in float64 either way",
    "predictors.observational_fit.x__link_jac__mutmut_22": "clip of z at +50: exp(-z) for z > 50 is < 2e-22, so the sigmoid is 1.0 in float64 either way",
    "predictors.observational_fit.x_link__mutmut_8": "clip of z at +50: exp(-z) for z > 50 is < 2e-22, so the sigmoid is 1.0 in float64 either way",
    "predictors.observational_fit.x_link__mutmut_16": "clip of z at +50: exp(-z) for z > 50 is < 2e-22, so the sigmoid is 1.0 in float64 either way",
    "predictors.observational_fit.x_fit_link__mutmut_36": "keeps the ceiling's box above the floor's: binds only when every score is equal (within 1e-6), where the fit is that constant either way",
    "predictors.observational_fit.x_fit_link__mutmut_43": "keeps the ceiling's box above the floor's: binds only when every score is equal (within 1e-6), where the fit is that constant either way",
    "predictors.observational_fit.x_fit_link__mutmut_46": "keeps the ceiling's box above the floor's: binds only when every score is equal (within 1e-6), where the fit is that constant either way",
    "predictors.observational_fit.x_fit_link__mutmut_49": "keeps the ceiling's box above the floor's: binds only when every score is equal (within 1e-6), where the fit is that constant either way",
    "predictors.observational_fit.x_fit_link__mutmut_76": "initial best: the first start's cost is below inf, so it is replaced before any read",
    "predictors.observational_fit.x_fit_link__mutmut_94": "max_nfev None: trf's own cap; the link's least-squares options (the tests check the optimum it reaches against a known link)",
    "predictors.observational_fit.x_fit_link__mutmut_97": "analytic Jacobian dropped: the numeric one reaches the same optimum",
    "predictors.observational_fit.x_fit_link__mutmut_99": "method 'trf' is least_squares' default with bounds",
    "predictors.observational_fit.x_fit_link__mutmut_100": "max_nfev dropped: as mutmut_94",
    "predictors.observational_fit.x_fit_link__mutmut_103": "max_nfev 501 for 500: the fit converges in far fewer evaluations",
    "predictors.observational_fit.x_fit_link__mutmut_104": "<= for <: an exact tie in cost keeps an equally good start",
    "predictors.observational_fit.x_fit_offsets__mutmut_17": "lstsq's default rcond: the design (log C, family one-hot) is full rank",
    "predictors.observational_fit.x_fit_space__mutmut_5": "IterativeImputer's random_state: unused without sample_posterior or a random imputation order",
    "predictors.observational_fit.x_fit_space__mutmut_8": "as mutmut_5",
    "predictors.observational_fit.x_fit_space__mutmut_7": "IterativeImputer's default max_iter is 10",
    "predictors.observational_fit.x_fit_space__mutmut_10": "max_iter 11 for 10: the imputation has converged (tol) before either cap",
    "predictors.observational_fit.x_fit_space__mutmut_17": "SimpleImputer's default strategy is 'mean'",
    "predictors.observational_fit.x_fit_space__mutmut_42": "a standard deviation of exactly 1e-12: > and >= agree elsewhere",
    "predictors.observational_fit.x_fit_space__mutmut_52": "svd's default full_matrices is True",
    "predictors.observational_fit.x_fit_space__mutmut_63": "an axis whose loadings sum to exactly 0: either sign is as valid",
    "predictors.observational_fit.x_fit_space__mutmut_70": "vt is square (full_matrices): shape[1] == shape[0]",
    "predictors.observational_fit.x_fit_space__mutmut_84": "signs are +-1: dividing by them is multiplying",
    # predictors/observational.py
    "predictors.observational.x__per_model__mutmut_12": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.x__per_model__mutmut_15": "dtype of the empty Series: an empty base benchmark is refused by series_rows first, and an empty target column gives no link models either way",
    "predictors.observational.x__per_model__mutmut_24": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.x__per_model__mutmut_28": "fill -2 for -1: steps are >= 0, any negative fill ranks a missing step first",
    "predictors.observational.x__per_model__mutmut_46": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.x_capability_space__mutmut_132": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.x_capability_space__mutmut_140": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.x_capability_space__mutmut_166": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.x_capability_space__mutmut_43": "zip of base_benchmarks and the labels split from it: equal length",
    "predictors.observational.x_capability_space__mutmut_46": "as mutmut_43",
    "predictors.observational.x_capability_space__mutmut_47": "as mutmut_43",
    "predictors.observational.x_capability_space__mutmut_77": "standardize None for False: both falsy",
    "predictors.observational.x_capability_space__mutmut_78": "IterativeImputer's random_state: unused without sample_posterior or a random order",
    "predictors.observational.x_capability_space__mutmut_85": "as mutmut_78",
    "predictors.observational.x_capability_space__mutmut_83": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.x_capability_space__mutmut_91": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.xǁObservationalScalingǁ_bootstrap__mutmut_14": "(left) resampling never draws the first model: a slightly different bootstrap law, invisible without many refits",
    "predictors.observational.xǁObservationalScalingǁ_bootstrap__mutmut_22": "as mutmut_14 (the compute-efficiency resample)",
    "predictors.observational.xǁObservationalScalingǁ_bootstrap__mutmut_28": "a refit's start (the full fit's, or the linear-logit one): the same optimum",
    "predictors.observational.xǁObservationalScalingǁ_bootstrap__mutmut_33": "as mutmut_28",
    "predictors.observational.xǁObservationalScalingǁ_bootstrap__mutmut_34": "(left) break for continue after a failed refit: no refit fails on any test's data",
    "predictors.observational.xǁObservationalScalingǁ_choose_k__mutmut_20": "(left) transform to all components instead of kmax: differs only with more than 5 base benchmarks (kmax = min(5, n)); the folds read only :k <= kmax",
    "predictors.observational.xǁObservationalScalingǁ_choose_k__mutmut_78": "< for <=: an exact tie of the anchor's error with best + SE",
    "predictors.observational.xǁObservationalScalingǁ_meta__mutmut_10": "errstate around log10 of values already > 0 or NaN (np.where): no warning arises there",
    "predictors.observational.xǁObservationalScalingǁ_meta__mutmut_11": "errstate around log10 of values already > 0 or NaN (np.where): no warning arises there",
    "predictors.observational.xǁObservationalScalingǁ_meta__mutmut_12": "errstate around log10 of values already > 0 or NaN (np.where): no warning arises there",
    "predictors.observational.xǁObservationalScalingǁ_meta__mutmut_13": "errstate around log10 of values already > 0 or NaN (np.where): no warning arises there",
    "predictors.observational.xǁObservationalScalingǁ_meta__mutmut_29": "compute 0 gives log10 = -inf, not finite: the same as NaN downstream",
    "predictors.observational.xǁObservationalScalingǁ_meta__mutmut_30": "(left) compute in (0, 1] FLOPs: no real model",
    "predictors.observational.xǁObservationalScalingǁ_meta__mutmut_33": "NaN family left as NaN: groupby first() skips it and every reader tests notna() or membership in families_ ('nan' is none)",
    "predictors.observational.xǁObservationalScalingǁ_meta__mutmut_34": "as mutmut_33",
    "predictors.observational.xǁObservationalScalingǁ_meta__mutmut_37": "as mutmut_33 (where() without other fills NaN)",
    "predictors.observational.xǁObservationalScalingǁ_meta__mutmut_6": "a missing flops column: compute_of falls back to 6 N D without it, and None becomes NaN under astype(float)",
    "predictors.observational.xǁObservationalScalingǁ_meta__mutmut_7": "a missing flops column: compute_of falls back to 6 N D without it, and None becomes NaN under astype(float)",
    "predictors.observational.xǁObservationalScalingǁ_meta__mutmut_9": "a missing flops column: compute_of falls back to 6 N D without it, and None becomes NaN under astype(float)",
    "predictors.observational.xǁObservationalScalingǁ_planned__mutmut_109": "zip of the targets' families and capabilities: equal length",
    "predictors.observational.xǁObservationalScalingǁ_planned__mutmut_112": "as mutmut_109",
    "predictors.observational.xǁObservationalScalingǁ_planned__mutmut_113": "as mutmut_109",
    "predictors.observational.xǁObservationalScalingǁ_planned__mutmut_36": "zip of the refits' links, slopes and offsets: one row each per successful refit",
    "predictors.observational.xǁObservationalScalingǁ_planned__mutmut_40": "as mutmut_36",
    "predictors.observational.xǁObservationalScalingǁ_planned__mutmut_41": "as mutmut_36",
    "predictors.observational.xǁObservationalScalingǁ_planned__mutmut_43": "reshape(-2, n): numpy reads any negative size as the unknown one",
    "predictors.observational.xǁObservationalScalingǁ_planned__mutmut_90": "another seed for the residual draws: as valid; reproducibility per random_state is tested",
    "predictors.observational.xǁObservationalScalingǁ_planned__mutmut_92": "another seed for the residual draws: as valid; reproducibility per random_state is tested",
    "predictors.observational.xǁObservationalScalingǁ_planned_caps__mutmut_19": "as _planned__mutmut_43",
    "predictors.observational.xǁObservationalScalingǁ_residuals__mutmut_10": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.xǁObservationalScalingǁ_residuals__mutmut_16": "str(None) is 'None', not in families_: the same as None there",
    "predictors.observational.xǁObservationalScalingǁ_residuals__mutmut_40": "zip of a list and a mask built from it: equal length",
    "predictors.observational.xǁObservationalScalingǁ_residuals__mutmut_43": "as mutmut_40",
    "predictors.observational.xǁObservationalScalingǁ_residuals__mutmut_44": "as mutmut_40",
    "predictors.observational.xǁObservationalScalingǁ_target_base__mutmut_22": "dtype dropped: the column is float already (to_numpy/astype(None) give float64) (to_numeric's output)",
    "predictors.observational.xǁObservationalScalingǁ_target_base__mutmut_30": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.xǁObservationalScalingǁfit__mutmut_102": "another placeholder for a missing family: any string groups them",
    "predictors.observational.xǁObservationalScalingǁfit__mutmut_121": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.xǁObservationalScalingǁfit__mutmut_136": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.xǁObservationalScalingǁfit__mutmut_164": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.xǁObservationalScalingǁfit__mutmut_177": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.xǁObservationalScalingǁfit__mutmut_204": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.xǁObservationalScalingǁfit__mutmut_90": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.xǁObservationalScalingǁfit__mutmut_95": "dtype dropped: the column is float already (to_numpy/astype(None) give float64)",
    "predictors.observational.xǁObservationalScalingǁfit__mutmut_32": "< for <=: observations always have more columns than n_params and n_tokens (model, value, ... are required)",
    "predictors.observational.xǁObservationalScalingǁfit__mutmut_48": "reindex to the base order: the concat of a dict in that order is in it already",
    "predictors.observational.xǁObservationalScalingǁfit__mutmut_85": "IterativeImputer's random_state: unused without sample_posterior or a random order",
    "predictors.observational.xǁObservationalScalingǁinput_contract__mutmut_7": "columns' default () is needs_columns (())",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_106": "as _planned__mutmut_43",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_13": "(left) the targets' old index kept as a column 'index' that nothing reads",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_14": "as mutmut_13",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_141": "another seed for the residual draws: as valid; reproducibility per random_state is tested",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_155": "zip of the existing targets and their forecasts: one each",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_158": "as mutmut_155",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_159": "as mutmut_155",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_175": "as mutmut_155 (planned targets)",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_178": "as mutmut_155 (planned targets)",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_191": "as mutmut_155 (planned targets)",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_19": "a missing flops column: compute_of falls back to 6 N D without it, and None becomes NaN under astype(float)",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_20": "a missing flops column: compute_of falls back to 6 N D without it, and None becomes NaN under astype(float)",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_22": "a missing flops column: compute_of falls back to 6 N D without it, and None becomes NaN under astype(float)",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_33": "errstate around log10 of values already > 0 or NaN (np.where): no warning arises there",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_34": "errstate around log10 of values already > 0 or NaN (np.where): no warning arises there",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_35": "errstate around log10 of values already > 0 or NaN (np.where): no warning arises there",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_36": "errstate around log10 of values already > 0 or NaN (np.where): no warning arises there",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_51": "as _meta__mutmut_29",
    "predictors.observational.xǁObservationalScalingǁpredict__mutmut_52": "as _meta__mutmut_30",
    # --- mutG (session 6)
    # predictors/agreement.py (mutG; measured with tests/unit/test_agreement_rules.py alone)
    "predictors.agreement.x_prepare_scores__mutmut_40": "astype(None) makes the flag float: False->0, None->NaN->True, so the same mask",
    "predictors.agreement.x_prepare_scores__mutmut_64": "span 0 where hi == lo gives 0/0 = NaN, which fillna(1.0) maps as the NaN span does",
    "predictors.agreement.x_win_rates__mutmut_12": "n >= 0 keeps n = 0 (a lone model), whose 0 strictly-below / 0 is NaN anyway",
    "predictors.agreement.x_z_scores__mutmut_13": "pd.Series(None, index) is float64 NaN in this pandas: same result",
    "predictors.agreement.x_z_scores__mutmut_16": "as mutmut_13 (no data: float64 NaN)",
    "predictors.agreement.x_z_scores__mutmut_5": "sd == 0 means all equal: (x - mean) / 0 = 0/0 = NaN; a non-finite sd gives NaN too",
    "predictors.agreement.x_z_scores__mutmut_6": "len(ok) < 2 iff the ddof=1 sd is NaN, so the len test is implied by isfinite",
    "predictors.agreement.xǁAgreementTesterǁ_differences__mutmut_4": "every flipped benchmark is a matrix column and so a table_ row",
    "predictors.agreement.xǁAgreementTesterǁ_differences__mutmut_35": "zip strict flag over two columns of one frame: equal lengths",
    "predictors.agreement.xǁAgreementTesterǁ_differences__mutmut_38": "as mutmut_35",
    "predictors.agreement.xǁAgreementTesterǁ_differences__mutmut_41": "as mutmut_35",
    "predictors.agreement.xǁAgreementTesterǁ_table__mutmut_72": "na_position='last' is sort_values' default",
    "predictors.agreement.xǁAgreementTesterǁfit__mutmut_23": "how='left' is DataFrame.join's default",
    "predictors.agreement.xǁAgreementTesterǁfit__mutmut_29": "the matrix is already float64 (scores coerced by to_numeric, win rates float)",
    "predictors.agreement.xǁAgreementTesterǁfit__mutmut_61": "size ALL uses every shared model for either strategy: same statistic, one row per benchmark kept either way",
    "predictors.agreement.xǁAgreementTesterǁfit__mutmut_97": "stacklevel only moves the reported frame; mutmut's trampoline adds a frame, so it cannot be pinned under mutation",
    "predictors.agreement.xǁAgreementTesterǁfit__mutmut_99": "as mutmut_97",
    "predictors.agreement.xǁAgreementTesterǁspread_by_size__mutmut_11": "size-0 (ALL) rows have size_taken = n_shared > 0, so the size_taken == size filter drops them anyway",
    "predictors.agreement.xǁAgreementTesterǁto_dict__mutmut_31": "_sizes() rejects sizes < 1 in fit, so no 0 reaches to_dict",
    "predictors.agreement.xǁAgreementTesterǁto_dict__mutmut_4": "table_'s index is already named 'benchmark': the rename of 'index' is a no-op",
    "predictors.agreement.xǁAgreementTesterǁto_dict__mutmut_5": "as mutmut_4",
    "predictors.agreement.xǁAgreementTesterǁto_dict__mutmut_6": "as mutmut_4",
    "predictors.agreement.xǁAgreementTesterǁto_dict__mutmut_7": "as mutmut_4",
    "predictors.agreement.xǁAgreementTesterǁto_dict__mutmut_45": "pandas lower-cases orient: 'RECORDS' is 'records'",
    "predictors.agreement.xǁAgreementTesterǁto_dict__mutmut_50": "as mutmut_45",
    "predictors.agreement.xǁAgreementTesterǁto_dict__mutmut_55": "as mutmut_45",
    # --- mutH (session 6)
    # predictors/perchoice.py (mutH): 45 survivors of 729 with tests/unit/test_perchoice_rules.py alone
    "predictors.perchoice.x__incorrect_trend__mutmut_35": "to_numpy(dtype=None): the pivot of float logprob_sum is already float64",
    "predictors.perchoice.x__summarise__mutmut_5": "to_numpy(dtype=None): per_item correlation columns are already float64",
    "predictors.perchoice.x_ccdf_auc__mutmut_11": "float('NAN') is the same NaN as float('nan')",
    "predictors.perchoice.x_item_metrics__mutmut_114": "target.astype(None): p minus a bool Series gives the same floats as minus its float copy",
    "predictors.perchoice.x_item_metrics__mutmut_118": "groupby sort=None vs False: results are aligned by (model, item) labels, not by group order",
    "predictors.perchoice.x_item_metrics__mutmut_120": "groupby sort default vs False: results are aligned by (model, item) labels, not by group order",
    "predictors.perchoice.x_item_metrics__mutmut_121": "groupby sort=True vs False: results are aligned by (model, item) labels, not by group order",
    "predictors.perchoice.x_item_metrics__mutmut_144": "acc as bool instead of float 0/1: identical numbers in every mean, correlation and summary downstream",
    "predictors.perchoice.x_item_metrics__mutmut_16": "sort kind is ignored by pandas for a multi-column sort_values (always a stable lexsort)",
    "predictors.perchoice.x_item_metrics__mutmut_17": "sort kind is ignored by pandas for a multi-column sort_values (always a stable lexsort)",
    "predictors.perchoice.x_item_metrics__mutmut_21": "groupby sort=None vs False: transform returns values aligned to the original rows",
    "predictors.perchoice.x_item_metrics__mutmut_23": "groupby sort default vs False: transform returns values aligned to the original rows",
    "predictors.perchoice.x_item_metrics__mutmut_28": "groupby sort=True vs False: transform returns values aligned to the original rows",
    "predictors.perchoice.x_item_metrics__mutmut_53": "reset_index(drop=None) only adds an unused 'index' column",
    "predictors.perchoice.x_item_metrics__mutmut_54": "reset_index(drop=False) only adds an unused 'index' column",
    "predictors.perchoice.x_item_metrics__mutmut_56": "astype(None) on a float logprob_sum column leaves it float64",
    "predictors.perchoice.x_item_metrics__mutmut_66": "pd.Series(series, index=None) keeps the series' own index, which is lp.index",
    "predictors.perchoice.x_item_metrics__mutmut_68": "pd.Series(series) keeps the series' own index, which is lp.index",
    "predictors.perchoice.x_item_metrics__mutmut_7": "sort kind is ignored by pandas for a multi-column sort_values (always a stable lexsort)",
    "predictors.perchoice.x_item_metrics__mutmut_73": "groupby sort=None vs False: transform returns values aligned to the original rows",
    "predictors.perchoice.x_item_metrics__mutmut_75": "groupby sort default vs False: transform returns values aligned to the original rows",
    "predictors.perchoice.x_item_metrics__mutmut_76": "groupby sort=True vs False: transform returns values aligned to the original rows",
    "predictors.perchoice.x_item_metrics__mutmut_83": "groupby sort=None vs False: transform returns values aligned to the original rows",
    "predictors.perchoice.x_item_metrics__mutmut_85": "groupby sort default vs False: transform returns values aligned to the original rows",
    "predictors.perchoice.x_item_metrics__mutmut_86": "groupby sort=True vs False: transform returns values aligned to the original rows",
    "predictors.perchoice.x_item_metrics__mutmut_9": "sort kind is ignored by pandas for a multi-column sort_values (always a stable lexsort)",
    "predictors.perchoice.x_log_compute__mutmut_11": "an all-NaN Series(np.nan, dtype=None) is already float64",
    "predictors.perchoice.x_log_compute__mutmut_12": "Series(index=..., dtype=float) with no data is all NaN too",
    "predictors.perchoice.x_log_compute__mutmut_14": "an all-NaN Series(np.nan) is already float64",
    "predictors.perchoice.x_log_compute__mutmut_17": "astype(None) on a numeric size column; c.to_numpy(float) converts before log10 anyway",
    "predictors.perchoice.x_log_compute__mutmut_47": "to_numpy(None) of the float64 compute Series is the same float array",
    "predictors.perchoice.x_log_compute__mutmut_9": "Series(None, dtype=float) over an index is all NaN, as Series(np.nan) is",
    "predictors.perchoice.x_perchoice_analysis__mutmut_108": "p_vocab = exp(log_p_vocab) has the same missing items, and no note is added in between",
    "predictors.perchoice.x_perchoice_analysis__mutmut_118": "to_numpy(dtype=None): the pivoted metric columns are already float64",
    "predictors.perchoice.x_perchoice_analysis__mutmut_91": "n_items's initial value is always overwritten: METRICS is never empty",
    "predictors.perchoice.x_perchoice_analysis__mutmut_92": "n_items's initial value is always overwritten: METRICS is never empty",
    "predictors.perchoice.x_scaling_kind__mutmut_10": "an empty Series(dtype=None) has length 0, so varies() is False either way",
    "predictors.perchoice.x_scaling_kind__mutmut_13": "len(v) >= 1: a single size has max / min = 1 < FIXED_RATIO, so varies() is False anyway",
    "predictors.perchoice.x_scaling_kind__mutmut_8": "astype(None) on a numeric size column: min, max and ratio are the same",
    "predictors.perchoice.xǁPerChoiceResultǁordering__mutmut_12": "default quicksort of 5 rows is numpy's insertion sort, stable like mergesort",
    "predictors.perchoice.xǁPerChoiceResultǁordering__mutmut_15": "numpy accepts the sort kind in any case: 'MERGESORT' is mergesort",
    "predictors.perchoice.xǁPerChoiceResultǁordering__mutmut_9": "kind=None is quicksort; on 5 rows numpy uses insertion sort, stable like mergesort",
    "predictors.perchoice.xǁPerChoiceResultǁto_dict__mutmut_19": "pandas matches orient case-insensitively: 'RECORDS' is 'records'",
    "predictors.perchoice.xǁPerChoiceResultǁto_dict__mutmut_26": "pandas matches orient case-insensitively: 'RECORDS' is 'records'",
    "predictors.perchoice.xǁPerChoiceResultǁto_dict__mutmut_33": "pandas matches orient case-insensitively: 'RECORDS' is 'records'",
    # --- mutF (session 6)
    # predictors/cod.py (helper mutF; run 2 with tests/unit/test_cod_rules.py only)
    "predictors.cod.xǁCODForecasterǁ_bootstrap__mutmut_73": "sizes' dtype dropped: int counts weight float laws to the same sums",
    "predictors.cod.xǁCODForecasterǁ_bootstrap__mutmut_75": "as above",
    "predictors.cod.xǁCODForecasterǁ_jackknife__mutmut_54": "as _bootstrap__mutmut_73",
    "predictors.cod.xǁCODForecasterǁ_jackknife__mutmut_56": "as _bootstrap__mutmut_73",
    "predictors.cod.xǁCODForecasterǁpredict_subset__mutmut_5": "as _bootstrap__mutmut_73",
    "predictors.cod.xǁCODForecasterǁpredict_subset__mutmut_7": "as _bootstrap__mutmut_73",
    "predictors.cod.xǁCODForecasterǁ_fall_back__mutmut_21": "to_numpy(None) of a float64 Series is float64",
    "predictors.cod.xǁCODForecasterǁ_fit_clusters__mutmut_2": "as _fall_back__mutmut_21",
    "predictors.cod.xǁCODForecasterǁ_replicate_setup__mutmut_2": "as _fall_back__mutmut_21",
    "predictors.cod.xǁCODForecasterǁfit__mutmut_67": "to_numpy(None) of an all-float64 pass-rate frame is float64",
    "predictors.cod.xǁCODForecasterǁ_replicate_setup__mutmut_10": "zero items' label -3 for -2: any label no cluster has",
    "predictors.cod.xǁCODForecasterǁ_replicate_setup__mutmut_5": "zero items' label None (object array): equal to no cluster label, as -2",
    "predictors.cod.xǁCODForecasterǁfit__mutmut_137": "columns=None: the dicts' key order is LAW_COLUMNS then ClusterFit.to_dict's, the same list",
    "predictors.cod.xǁCODForecasterǁfit__mutmut_139": "as mutmut_137",
    "predictors.cod.xǁCODForecasterǁsummary__mutmut_60": "zip of one frame's three columns: equal length, strict is moot",
    "predictors.cod.xǁCODForecasterǁsummary__mutmut_64": "as mutmut_60",
    "predictors.cod.xǁCODForecasterǁsummary__mutmut_71": "as mutmut_60",
    "predictors.cod.xǁCODForecasterǁ__init____mutmut_4": "1e18 written as 1e+18: the same float",
    # ladder after the _fit_compute fix (session 6)
    "predictors.ladder.x__fit_compute__mutmut_5": "the fit's compute when a column is missing: a NaN (or None, cast to NaN) column, or none, gives 6 N D where flops is not finite either way",
    "predictors.ladder.x__fit_compute__mutmut_8": "the fit's compute when a column is missing: a NaN (or None, cast to NaN) column, or none, gives 6 N D where flops is not finite either way",
    "predictors.ladder.x__fit_compute__mutmut_10": "the fit's compute when a column is missing: a NaN (or None, cast to NaN) column, or none, gives 6 N D where flops is not finite either way",
    "predictors.ladder.x__fit_compute__mutmut_14": "the fit's compute when a column is missing: a NaN (or None, cast to NaN) column, or none, gives 6 N D where flops is not finite either way",
    "predictors.ladder.x__fit_compute__mutmut_16": "the fit's compute when a column is missing: a NaN (or None, cast to NaN) column, or none, gives 6 N D where flops is not finite either way",
    "predictors.ladder.xǁTwoStepLadderǁpredict__mutmut_158": "another fixed offset of random_state for the interval noise is as reproducible",
    # --- mutI (session 6)
    # predictors/loss_accuracy.py survivors after tests/unit/test_loss_accuracy_rules.py (558 mutants, 31 survived)
    "predictors.loss_accuracy.xǁGadreChainǁ_bootstrap__mutmut_63": "iteration cap of the batched loss refit: tuning constant; the default cap reaches the same optimum",
    "predictors.loss_accuracy.xǁGadreChainǁ_bootstrap__mutmut_64": "as above (cap 401 for 400)",
    "predictors.loss_accuracy.xǁGadreChainǁ_bootstrap__mutmut_95": "iteration cap of the batched error refit: tuning constant; the default cap reaches the same optimum",
    "predictors.loss_accuracy.xǁGadreChainǁ_bootstrap__mutmut_96": "as above (cap 401 for 400)",
    "predictors.loss_accuracy.xǁGadreChainǁ_draw__mutmut_28": "rng.choice's replace defaults to True",
    "predictors.loss_accuracy.xǁGadreChainǁ_fit_error__mutmut_5": "x of the 0-point refusal is never read: fit_law refuses on len(y) < 3 first",
    "predictors.loss_accuracy.xǁGadreChainǁ_fit_error__mutmut_7": "starts of the 0-point refusal are never read: fit_law refuses on len(y) < 3 first",
    "predictors.loss_accuracy.xǁGadreChainǁ_fit_error__mutmut_12": "as _fit_error__mutmut_5 (x never read)",
    "predictors.loss_accuracy.xǁGadreChainǁ_fit_error__mutmut_14": "as _fit_error__mutmut_7 (starts never read)",
    "predictors.loss_accuracy.xǁGadreChainǁ_fit_error__mutmut_15": "as _fit_error__mutmut_7 (starts never read)",
    "predictors.loss_accuracy.xǁGadreChainǁ_fit_error__mutmut_16": "as _fit_error__mutmut_7 (starts never read)",
    "predictors.loss_accuracy.xǁGadreChainǁ_fit_error__mutmut_30": "start of the 3-parameter error law: another start reaches the same optimum",
    "predictors.loss_accuracy.xǁGadreChainǁ_fit_error__mutmut_31": "as above",
    "predictors.loss_accuracy.xǁGadreChainǁ_fit_error__mutmut_32": "as above",
    "predictors.loss_accuracy.xǁGadreChainǁ_resampled__mutmut_15": "np.take_along_axis defaults to axis=-1, which is axis 1 of the 2-D resample rows",
    "predictors.loss_accuracy.xǁGadreChainǁfit__mutmut_48": "unreachable message: _rows already selected the same loss rows from the same frame, so this select cannot raise",
    "predictors.loss_accuracy.xǁGadreChainǁfit__mutmut_53": "as fit__mutmut_48",
    "predictors.loss_accuracy.xǁGadreChainǁfit__mutmut_54": "as fit__mutmut_48",
    "predictors.loss_accuracy.xǁGadreChainǁfit__mutmut_59": "all_loss keeps only the key columns and _loss, so merging on the common columns is merging on key",
    "predictors.loss_accuracy.xǁGadreChainǁfit__mutmut_62": "as fit__mutmut_59 (on omitted: the common columns are the key)",
    "predictors.loss_accuracy.xǁGadreChainǁfit__mutmut_63": "DataFrame.merge's how defaults to 'inner'",
    "predictors.loss_accuracy.xǁGadreChainǁfit__mutmut_72": "gadre_loss casts its inputs to float (laws._f) and the size enters nothing else",
    "predictors.loss_accuracy.xǁGadreChainǁfit__mutmut_75": "tokens / params is a float Series already",
    "predictors.loss_accuracy.xǁGadreChainǁfit__mutmut_89": "as fit__mutmut_72 (error-law sizes reach only gadre_loss)",
    "predictors.loss_accuracy.xǁGadreChainǁfit__mutmut_92": "as fit__mutmut_75",
    "predictors.loss_accuracy.xǁGadreChainǁfit__mutmut_153": "compute_of reads the flops column with astype(float): None and NaN both fall back to 6ND",
    "predictors.loss_accuracy.xǁGadreChainǁpredict__mutmut_75": "n is float (to_numpy(float) on the line above), so tokens / n is float whatever the tokens' dtype",
    "predictors.loss_accuracy.xǁGadreChainǁpredict__mutmut_151": "the interval noise's seed offset is arbitrary: any fixed offset from random_state is as reproducible",
    "predictors.loss_accuracy.xǁGadreChainǁfit__mutmut_134": "sort kind: ties in n_tokens within a model are that model's identical rows (the same tokens and size), so whichever is kept gives the same compute",
    "predictors.loss_accuracy.xǁGadreChainǁfit__mutmut_136": "sort kind: ties in n_tokens within a model are that model's identical rows (the same tokens and size), so whichever is kept gives the same compute",
    "predictors.loss_accuracy.xǁGadreChainǁfit__mutmut_147": "sort kind: ties in n_tokens within a model are that model's identical rows (the same tokens and size), so whichever is kept gives the same compute (numpy accepts the kind in any case)",
    "predictors.loss_accuracy.xǁGadreChainǁpredict__mutmut_149": "(left) an unseeded interval-noise generator: no test repeats a GadreChain predict with one random_state",
    "predictors.loss_accuracy.xǁGadreChainǁ_bootstrap__mutmut_98": "(left) okl | oke keeps a resample where one of the two refits failed: no small deterministic input makes exactly one fail",
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
    # one BLAS/OpenMP thread: mutmut forks its test runs, and a fork of a process whose OpenMP
    # pool has started hangs in scikit-learn's KMeans until the timeout, which mutmut then
    # counts as a kill
    threads = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env = os.environ | threads | {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "TORCHDYNAMO_DISABLE": "1"}
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
    """Timeouts count as killed but are shown apart: a mutant that loops is caught, yet a test
    run that hangs for another reason (a forked OpenMP pool) would pass as a kill too."""
    head = (
        f"{'module':32} {'mutants':>7} {'killed':>7} {'of them timeout':>15} {'survived':>8} "
        f"{'other':>6} {'survival %':>10}"
    )
    rows = [head, "-" * len(head)]
    for r in results:
        n = len(r.status)
        killed = r.count("killed", "timeout", "caught by type check")
        surv = len(r.survivors)
        other = n - killed - surv
        pct = f"{100 * surv / n:.1f}" if n else "-"
        rows.append(
            f"{r.module:32} {n:7d} {killed:7d} {r.count('timeout'):15d} {surv:8d} {other:6d} "
            f"{pct:>10}"
        )
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
