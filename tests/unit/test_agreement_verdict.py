"""The plain-language agreement verdicts: which sentence each row earns, at the rule boundaries.

The tester is a plain namespace carrying the four attributes ``verdict`` reads (the rules are a
pure function of them); the fitted-tester path is covered by test_agreement.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from predictors.agreement_verdict import Z_UNUSUAL, verdict

NAN = float("nan")


def _tester(reference: tuple[str, ...] = (), flipped: tuple[str, ...] = ()) -> Any:
    return SimpleNamespace(
        min_shared=5, warn_shared=10, reference_=list(reference), flipped_=list(flipped)
    )


def _row(n: int = 20, tau: float = 0.5, z: float = 0.0, **subsets: float) -> pd.Series:
    return pd.Series({"n_shared": n, "agreement": tau, "z": z, **subsets})


def test_too_few_shared_models_cannot_be_judged_and_the_boundary_is_inclusive() -> None:
    """4 < min_shared=5 refuses; exactly 5 is judged (min_shared is "at least")."""
    assert verdict("b", _row(n=4), _tester()) == (
        "Cannot judge: only 4 models shared with the aggregate (need at least 5). "
        "Evaluate more of the aggregate's models on it."
    )
    assert verdict("b", _row(n=5), _tester()).startswith("Typical agreement")


def test_an_undefined_agreement_cannot_be_judged_even_with_many_models() -> None:
    assert verdict("b", _row(n=50, tau=NAN), _tester()).startswith("Cannot judge: only 50 ")


def test_negative_agreement_asks_for_the_direction_and_zero_does_not() -> None:
    assert verdict("b", _row(tau=-0.25, z=-3.0), _tester()) == (
        "Ranks models against the aggregate (agreement -0.25): check the score direction "
        "(is lower better?) before anything else."
    )
    # tau = 0 is no agreement, not disagreement: the z rule decides (here: less than most)
    assert verdict("b", _row(tau=0.0, z=-3.0), _tester()).startswith(
        "Agrees with the aggregate less"
    )


def test_negative_agreement_after_a_flip_blames_the_listed_direction() -> None:
    out = verdict("b", _row(tau=-0.5), _tester(flipped=("b",)))
    assert out == (
        "Ranks models against the aggregate (agreement -0.50) after being flipped as "
        "lower-is-better: the source's direction is probably listed wrongly; check it."
    )
    # a flipped benchmark that now agrees (or is at zero) reads like any other
    assert verdict("b", _row(tau=0.5), _tester(flipped=("b",))).startswith("Typical agreement")
    assert verdict("b", _row(tau=0.0), _tester(flipped=("b",))).startswith("Typical agreement")
    # another benchmark's flip does not count, and a tester without flipped_ is fine
    assert verdict("b", _row(tau=-0.5), _tester(flipped=("c",))).endswith("before anything else.")
    bare = SimpleNamespace(min_shared=5, warn_shared=10, reference_=[])
    assert verdict("b", _row(tau=-0.5), bare).endswith("before anything else.")


@pytest.mark.parametrize(
    ("z", "start"),
    [
        (Z_UNUSUAL, "Agrees with the aggregate more than most benchmarks (0.50, z=+1.0)."),
        (0.99, "Typical agreement with the aggregate (0.50, z=+1.0)."),  # rounds, not over
        (-0.99, "Typical agreement with the aggregate (0.50, z=-1.0)."),
        (-Z_UNUSUAL, "Agrees with the aggregate less than most benchmarks (0.50, z=-1.0): it "),
        (NAN, "Typical agreement with the aggregate (0.50, z=+nan)."),
    ],
)
def test_z_thresholds_are_inclusive_at_one(z: float, start: str) -> None:
    """|z| >= 1 is "unusual" (module doc: at or beyond); a NaN z is never unusual."""
    assert verdict("b", _row(z=z), _tester()).startswith(start)


def test_less_than_most_says_why() -> None:
    assert verdict("b", _row(tau=0.125, z=-2.0), _tester()) == (
        "Agrees with the aggregate less than most benchmarks (0.12, z=-2.0): it measures "
        "something the aggregate does not, or measures it noisily."
    )


def test_circularity_and_few_models_add_sentences_in_order() -> None:
    """9 < warn_shared=10 adds the hint; exactly 10 does not."""
    out = verdict("R1", _row(n=9), _tester(reference=("R1",)))
    assert out == (
        "Typical agreement with the aggregate (0.50, z=+0.0). It is part of the aggregate, so "
        "this agreement is partly circular. Only 9 shared models: treat this as a hint, not a "
        "result."
    )
    assert verdict("R1", _row(n=10), _tester(reference=("R2",))) == (
        "Typical agreement with the aggregate (0.50, z=+0.0)."
    )


def test_close_neighbours_warning_needs_a_gap_over_015() -> None:
    """0.6875 - 0.5 = 0.1875 > 0.15 warns; a gap of exactly 0.15 (0.15 - 0.0 in floats) does not."""
    out = verdict("b", _row(adjacent_5_mean=0.5, random_5_mean=0.6875), _tester())
    assert out.endswith(
        " Between close neighbours it agrees much less (0.50 vs 0.69 for random subsets of the "
        "same size): do not use it to separate models of similar strength."
    )
    exact = verdict("b", _row(adjacent_5_mean=0.0, random_5_mean=0.15), _tester())
    assert "neighbours" not in exact
    reversed_gap = verdict("b", _row(adjacent_5_mean=0.6875, random_5_mean=0.5), _tester())
    assert "neighbours" not in reversed_gap


def test_smallest_size_with_both_means_is_used() -> None:
    """Sizes sort as numbers (5 before 10); a size with a NaN or missing mean is passed over."""
    row = _row(adjacent_10_mean=0.1, random_10_mean=0.9, adjacent_5_mean=0.5, random_5_mean=0.55)
    assert "neighbours" not in verdict("b", row, _tester())  # size 5: gap 0.05
    nan5 = _row(adjacent_10_mean=0.1, random_10_mean=0.9, adjacent_5_mean=NAN, random_5_mean=0.5)
    assert "(0.10 vs 0.90 for random" in verdict("b", nan5, _tester())
    nan5r = _row(adjacent_10_mean=0.1, random_10_mean=0.9, adjacent_5_mean=0.5, random_5_mean=NAN)
    assert "(0.10 vs 0.90 for random" in verdict("b", nan5r, _tester())
    missing5 = _row(adjacent_10_mean=0.1, random_10_mean=0.9, adjacent_5_mean=0.5)
    assert "(0.10 vs 0.90 for random" in verdict("b", missing5, _tester())
    # columns that only look alike (other prefixes or statistics) are not sizes
    decoys = _row(adjacent_5_sd=0.0, random_5_sd=0.9, xadjacent_5_mean=0.0, random_5_mean=0.9)
    assert "neighbours" not in verdict("b", decoys, _tester())
    # other statistics named *_mean (not a subset size) are not read as sizes
    extra = _row(bootstrap_mean=0.5, adjacent_5_mean=0.5, random_5_mean=0.6875)
    assert "(0.50 vs 0.69 for random" in verdict("b", extra, _tester())


def test_numpy_scalars_in_the_row_read_like_floats() -> None:
    row = pd.Series({"n_shared": np.int64(12), "agreement": np.float64(0.75), "z": np.float64(1.5)})
    assert verdict("b", row, _tester()) == (
        "Agrees with the aggregate more than most benchmarks (0.75, z=+1.5)."
    )
