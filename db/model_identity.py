"""One model, many names: joins a source's model names to stored models, and keeps where each
size, token count and release date came from.

Why: Epoch has release dates but no sizes, sloth has sizes but hub dates; the densing law needs
both on one row. A name joins a stored model when their normalised keys (:func:`identity_key`)
are equal and the match is unique on both sides (one stored model, one incoming name); anything
ambiguous is left apart and listed by ``capcast models --duplicates`` for review. Joined rows are
stored under the stored model's name, so the loader fills that model's missing attributes, and
:func:`record_provenance` notes which source filled what (``model_value_source``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db.models import Model, ModelAlias, ModelValueSource

ATTRIBUTES = ("n_params", "n_tokens", "flops", "release_date")
_SEP = re.compile(r"[\s_.()\[\]]+")


def identity_key(name: str) -> str:
    """``meta-llama/Llama-2-70b-hf`` and ``llama_2_70b`` -> ``llama-2-70b``.

    Case, an org prefix, separators, brackets and a trailing ``-hf`` are ignored; anything
    that tells models apart (size, ``-chat``, version, date) is kept.
    """
    base = name.strip().split("/")[-1].lower()
    base = _SEP.sub("-", base).strip("-")
    base = re.sub(r"-+", "-", base)
    return re.sub(r"-hf$", "", base)


@dataclass
class JoinReport:
    """What a join did: names joined to stored models, keys left apart as ambiguous."""

    joined: list[dict[str, str]] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"models_joined": self.joined, "models_ambiguous": self.ambiguous}


def join_models(
    session: Session, df: pd.DataFrame, *, source: str
) -> tuple[pd.DataFrame, JoinReport]:
    """Rename incoming models to the stored model they are (alias table first, then unique key).

    Names already stored are themselves; a recorded alias of ``source`` maps as before.
    """
    report = JoinReport()
    incoming = sorted(set(df["model"].astype(str)))
    stored_rows = session.execute(select(Model.id, Model.name)).all()
    stored = {name: mid for mid, name in stored_rows}
    id_to_name = {mid: name for mid, name in stored_rows}
    aliases = {
        a: id_to_name[m]
        for a, m in session.execute(
            select(ModelAlias.alias, ModelAlias.model_id).where(ModelAlias.source == source)
        ).all()
        if m in id_to_name
    }
    by_key: dict[str, list[str]] = {}
    for name in stored:
        by_key.setdefault(identity_key(name), []).append(name)
    in_key: dict[str, list[str]] = {}
    for name in incoming:
        in_key.setdefault(identity_key(name), []).append(name)
    rename: dict[str, str] = {}
    new_aliases: list[dict[str, Any]] = []
    for name in incoming:
        if name in stored:
            continue
        if name in aliases:
            rename[name] = aliases[name]
            continue
        key = identity_key(name)
        cands = by_key.get(key, [])
        if not cands:
            continue
        if len(cands) > 1 or len(in_key[key]) > 1:
            report.ambiguous.append(key)
            continue
        target = cands[0]
        rename[name] = target
        new_aliases.append(
            {"model_id": stored[target], "alias": name, "source": source, "key": key}
        )
        report.joined.append({"alias": name, "model": target, "key": key})
    if new_aliases:
        session.execute(insert(ModelAlias), new_aliases)
    report.ambiguous = sorted(set(report.ambiguous))
    if not rename:
        return df, report
    out = df.copy()
    out["model"] = out["model"].map(lambda m: rename.get(m, m))
    return out, report


def snapshot(session: Session, names: list[str]) -> dict[str, tuple[int | None, dict[str, Any]]]:
    """Each named model's id and attributes now (id None: not stored yet)."""
    cols = (Model.name, Model.id, *(getattr(Model, a) for a in ATTRIBUTES))
    found: dict[str, tuple[int | None, dict[str, Any]]] = {n: (None, {}) for n in names}
    for i in range(0, len(names), 500):
        for row in session.execute(select(*cols).where(Model.name.in_(names[i : i + 500]))).all():
            found[row[0]] = (row[1], dict(zip(ATTRIBUTES, row[2:], strict=True)))
    return found


def record_provenance(
    session: Session,
    before: dict[str, tuple[int | None, dict[str, Any]]],
    sources: dict[str, str],
) -> int:
    """Note the source of every attribute that the load just set (it was missing before).

    ``sources`` maps model name -> the source label of its rows. Returns rows written.
    """
    after = snapshot(session, list(before))
    rows: list[dict[str, Any]] = []
    for name, (mid, attrs) in after.items():
        if mid is None:
            continue
        old = before[name][1]
        for a in ATTRIBUTES:
            if attrs.get(a) is not None and old.get(a) is None:
                rows.append({"model_id": mid, "attribute": a, "source": sources.get(name, "")})
    if rows:
        have = set(
            session.execute(
                select(ModelValueSource.model_id, ModelValueSource.attribute).where(
                    ModelValueSource.model_id.in_({r["model_id"] for r in rows})
                )
            )
            .tuples()
            .all()
        )
        rows = [r for r in rows if (r["model_id"], r["attribute"]) not in have]
        if rows:
            session.execute(insert(ModelValueSource), rows)
    return len(rows)


def duplicates(session: Session) -> dict[str, Any]:
    """For review: every recorded join, and stored models whose keys collide but were not joined."""
    joined = [
        {"model": m, "alias": a, "source": s, "key": k, "method": meth}
        for m, a, s, k, meth in session.execute(
            select(
                Model.name, ModelAlias.alias, ModelAlias.source, ModelAlias.key, ModelAlias.method
            )
            .join(Model, Model.id == ModelAlias.model_id)
            .order_by(Model.name, ModelAlias.source)
        ).all()
    ]
    groups: dict[str, list[str]] = {}
    for (name,) in session.execute(select(Model.name)).all():
        groups.setdefault(identity_key(name), []).append(name)
    candidates = [{"key": k, "models": sorted(v)} for k, v in sorted(groups.items()) if len(v) > 1]
    provenance = [
        {"model": m, "attribute": a, "source": s}
        for m, a, s in session.execute(
            select(Model.name, ModelValueSource.attribute, ModelValueSource.source)
            .join(Model, Model.id == ModelValueSource.model_id)
            .where(Model.id.in_(select(ModelAlias.model_id)))
            .order_by(Model.name, ModelValueSource.attribute)
        ).all()
    ]
    return {"joined": joined, "unjoined_candidates": candidates, "joined_provenance": provenance}
