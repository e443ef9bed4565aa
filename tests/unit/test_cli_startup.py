"""``capcast`` starts without the heavy stack: commands import pandas, SciPy and models when run.

One module-level import in a command module or in ``predictors.registry`` puts seconds back on
every ``capcast --help``; these tests catch that without timing anything.
"""

from __future__ import annotations

import json
import subprocess
import sys

#: Modules that ``import service.cli`` must leave unloaded.
HEAVY = ("pandas", "scipy", "sklearn", "torch", "vllm", "predictors.cod")
#: Method name -> (module, class) of its estimator, spelled out apart from predictors.registry.
EXPECTED_CLASSES = {
    "gadre": ("predictors.loss_accuracy", "GadreChain"),
    "ladder": ("predictors.ladder", "TwoStepLadder"),
    "exponential": ("predictors.baselines", "ExponentialCompute"),
    "sigmoid": ("predictors.baselines", "SigmoidLogCompute"),
    "single_step": ("predictors.baselines", "SingleStep"),
    "cod": ("predictors.cod", "CODForecaster"),
    "passuntil": ("predictors.passuntil", "PassUntilForecaster"),
    "auto": ("predictors.auto", "AutoForecaster"),
    "observational": ("predictors.observational", "ObservationalScaling"),
}


def test_importing_the_cli_loads_no_heavy_module() -> None:
    code = (
        "import json, sys; import service.cli; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_registry_lists_methods_without_importing_them() -> None:
    code = (
        "import json, sys; from predictors.registry import METHODS; "
        "names = sorted(METHODS); "
        "print(json.dumps([names, [m for m in ('pandas', 'predictors.cod') if m in sys.modules]]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    names, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert names == sorted(EXPECTED_CLASSES)  # listing the names worked ...
    assert loaded == []  # ... and imported no estimator module


def test_keys_help_scopes_match_service_auth() -> None:
    """keys_cmd spells the scopes out so as not to import FastAPI; they must not drift."""
    from service.auth import SCOPES
    from service.cli.keys_cmd import SCOPES as CLI_SCOPES

    assert CLI_SCOPES == SCOPES


def test_methods_resolve_to_estimator_classes() -> None:
    """Each name resolves (lazily) to the class written down here, independently of the table."""
    from predictors.base import BaseEstimator
    from predictors.registry import METHODS

    assert len(METHODS) == len(EXPECTED_CLASSES)
    for name, (module, cls_name) in EXPECTED_CLASSES.items():
        cls = METHODS[name]
        assert (cls.__module__, cls.__name__) == (module, cls_name), name
        assert issubclass(cls, BaseEstimator), name
    assert "magic" not in METHODS
