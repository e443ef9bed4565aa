"""Plain-language verdicts on a benchmark's agreement with the aggregate, for benchmark builders.

The numbers (tau, z, s.d. over subsets) answer "how much does this benchmark rank models like the
established ones, and how sure are we"; the verdict turns them into what to do next.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: |z| at or beyond this is "unusual" among the catalogue's benchmarks.
Z_UNUSUAL = 1.0


def verdict(name: str, row: pd.Series, tester: Any) -> str:
    """One or two sentences a benchmark builder can act on."""
    n = int(row["n_shared"])
    tau = row["agreement"]
    if n < tester.min_shared or not np.isfinite(tau):
        return (
            f"Cannot judge: only {n} models shared with the aggregate (need at least "
            f"{tester.min_shared}). Evaluate more of the aggregate's models on it."
        )
    z = row["z"]
    parts = []
    if tau < 0 and name in getattr(tester, "flipped_", []):
        parts.append(
            f"Ranks models against the aggregate (agreement {tau:+.2f}) after being flipped as "
            "lower-is-better: the source's direction is probably listed wrongly; check it."
        )
    elif tau < 0:
        parts.append(
            f"Ranks models against the aggregate (agreement {tau:+.2f}): check the score "
            "direction (is lower better?) before anything else."
        )
    elif np.isfinite(z) and z >= Z_UNUSUAL:
        parts.append(
            f"Agrees with the aggregate more than most benchmarks ({tau:.2f}, z={z:+.1f})."
        )
    elif np.isfinite(z) and z <= -Z_UNUSUAL:
        parts.append(
            f"Agrees with the aggregate less than most benchmarks ({tau:.2f}, z={z:+.1f}): it "
            "measures something the aggregate does not, or measures it noisily."
        )
    else:
        parts.append(f"Typical agreement with the aggregate ({tau:.2f}, z={z:+.1f}).")
    if name in tester.reference_:
        parts.append("It is part of the aggregate, so this agreement is partly circular.")
    if n < tester.warn_shared:
        parts.append(f"Only {n} shared models: treat this as a hint, not a result.")
    adj, rnd = _small_subsets(row)
    if adj is not None and rnd is not None and rnd - adj > 0.15:
        parts.append(
            f"Between close neighbours it agrees much less ({adj:.2f} vs {rnd:.2f} for random "
            "subsets of the same size): do not use it to separate models of similar strength."
        )
    return " ".join(parts)


def _small_subsets(row: pd.Series) -> tuple[float | None, float | None]:
    sizes = sorted(
        int(k.split("_")[1]) for k in row.index if k.startswith("adjacent_") and k.endswith("_mean")
    )
    for size in sizes:
        adj, rnd = row.get(f"adjacent_{size}_mean"), row.get(f"random_{size}_mean")
        if adj is not None and rnd is not None and np.isfinite(adj) and np.isfinite(rnd):
            return float(adj), float(rnd)
    return None, None
