"""The training corpus: the running interpreter's own standard library source files.

Every machine with Python has it, so the ladder needs no download. The split is by file (a file
is wholly train or wholly held out) with a fixed seed, so held-out next-line tasks never appear
in training. Test suites are excluded: they are huge, repetitive and not representative code.
"""

from __future__ import annotations

import hashlib
import random
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

EXCLUDED_PARTS = frozenset({"site-packages", "dist-packages", "test", "tests", "idle_test"})


@dataclass(frozen=True)
class CorpusSplit:
    """Train and held-out file lists (relative paths, sorted) and where they live."""

    root: Path
    train: tuple[str, ...]
    heldout: tuple[str, ...]
    seed: int
    heldout_fraction: float

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8", errors="replace")

    def texts(self, part: str) -> list[str]:
        files = self.train if part == "train" else self.heldout
        return [self.read(f) for f in files]

    def fingerprint(self) -> str:
        """SHA-256 over file names and contents: identifies the corpus across machines."""
        h = hashlib.sha256()
        for part, files in (("train", self.train), ("heldout", self.heldout)):
            for rel in files:
                h.update(f"{part}:{rel}\n".encode())
                h.update((self.root / rel).read_bytes())
        return h.hexdigest()

    def describe(self) -> dict[str, object]:
        return {
            "root": str(self.root),
            "python_version": sys.version.split()[0],
            "n_train_files": len(self.train),
            "n_heldout_files": len(self.heldout),
            "seed": self.seed,
            "heldout_fraction": self.heldout_fraction,
            "fingerprint": self.fingerprint(),
        }


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def list_source_files(root: Path) -> list[str]:
    """All ``.py`` files under ``root`` outside tests and installed packages, sorted."""
    out = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if EXCLUDED_PARTS.intersection(rel.parts[:-1]) or not path.is_file():
            continue
        out.append(rel.as_posix())
    return sorted(out)


def split_corpus(
    root: Path | None = None, *, seed: int = 0, heldout_fraction: float = 0.1
) -> CorpusSplit:
    """Split the stdlib files into train and held-out parts with a fixed seed."""
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be in (0, 1), got {heldout_fraction}")
    root = root or stdlib_dir()
    files = list_source_files(root)
    if len(files) < 10:
        raise ValueError(f"too few Python source files under {root}: {len(files)}")
    order = files[:]
    random.Random(seed).shuffle(order)
    n_held = max(1, round(len(order) * heldout_fraction))
    heldout = tuple(sorted(order[:n_held]))
    train = tuple(sorted(order[n_held:]))
    return CorpusSplit(root, train, heldout, seed, heldout_fraction)
