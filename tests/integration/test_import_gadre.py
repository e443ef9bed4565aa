"""Issue acceptance: ``capcast import gadre`` then SQL on the documented view gives all 104
models with C4 validation loss and 17-task error equal to models_flat.csv; re-import changes
nothing; a bad copy of the data changes nothing and says where it is bad."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
from sqlalchemy import text
from typer.testing import CliRunner

from db.session import make_engine
from service.cli import app
from tests.integration.import_harness import counts

# The README's example query ("Importing data").
QUERY = """
SELECT model,
       MAX(CASE WHEN benchmark = 'c4_val' AND metric = 'loss' THEN value END) AS c4_val_loss,
       MAX(CASE WHEN benchmark = 'avg17' AND metric = 'err' THEN value END) AS err_avg17,
       MAX(n_params) AS n_params, MAX(n_tokens) AS n_tokens
FROM model_scores
WHERE family LIKE 'gadre-%'
GROUP BY model
"""


def test_gadre_import_matches_models_flat_and_is_idempotent(
    cli: CliRunner, db_url: str, shared_data: Path
) -> None:
    directory = shared_data / "gadre-overtraining"
    res = cli.invoke(app, ["import", "gadre", str(directory), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["models_created"] == 104 and report["measurements_inserted"] == 104 * 56
    engine = make_engine(db_url)
    with engine.connect() as conn:
        got = pd.DataFrame(conn.execute(text(QUERY)).mappings().all()).set_index("model")
        kinds = dict(conn.execute(text("SELECT name, kind FROM benchmark")).tuples().all())
    engine.dispose()
    flat = pd.read_csv(directory / "models_flat.csv").set_index("name")
    assert len(got) == 104 and set(got.index) == set(flat.index)
    assert (got["c4_val_loss"] == flat.loc[got.index, "loss_c4_val"]).all()
    assert (got["err_avg17"] - flat.loc[got.index, "err_avg17"]).abs().max() < 1e-12
    assert (got["n_params"] == flat.loc[got.index, "N_params"]).all()
    assert (got["n_tokens"] == flat.loc[got.index, "D_tokens"]).all()
    assert kinds["c4_val"] == "loss" and kinds["squad"] == "generative"
    assert kinds["hellaswag"] == "multiple_choice" and kinds["avg17"] == "aggregate"
    before = counts(db_url)
    again = cli.invoke(app, ["import", "gadre", str(directory), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["measurements_unchanged"] == 104 * 56
    assert counts(db_url) == before


def _copy(shared_data: Path, tmp_path: Path) -> Path:
    src = shared_data / "gadre-overtraining"
    dst = tmp_path / "gadre"
    (dst / "models").mkdir(parents=True)
    (dst / "evals").mkdir()
    shutil.copy(src / "eval_metadata.csv", dst)
    for path in sorted((src / "models").glob("*.json"))[:3]:
        shutil.copy(path, dst / "models")
        shutil.copy(src / "evals" / f"evaluation_{path.stem}_heavy.json", dst / "evals")
    return dst


def _edit(path: Path, change) -> None:
    obj = json.loads(path.read_text())
    change(obj)
    path.write_text(json.dumps(obj))


def test_bad_gadre_inputs_change_nothing(
    cli: CliRunner, db_url: str, shared_data: Path, tmp_path: Path
) -> None:
    d = _copy(shared_data, tmp_path)
    assert cli.invoke(app, ["import", "gadre", str(d)]).exit_code == 0
    before = counts(db_url)
    first = sorted((d / "models").glob("*.json"))[0]
    evals = d / "evals" / f"evaluation_{first.stem}_heavy.json"
    cases = [
        (
            first,
            lambda o: o["results"][1].__setitem__("loss", o["results"][1]["loss"] + 0.1),
            "as already stored",
        ),
        (first, lambda o: o["hyperparameters"].__setitem__("params", -3), "non-negative"),
        (evals, lambda o: o["eval_metrics"]["icl"].__setitem__("boolq", "high"), "a number"),
        (
            evals,
            lambda o: o["eval_metrics"]["icl"].__setitem__("not_a_task", 0.3),
            "unknown benchmark",
        ),
        (
            first,
            lambda o: o["hyperparameters"].__setitem__("params", 5),
            "as already stored for model",
        ),
    ]
    for path, change, expected in cases:
        original = path.read_text()
        _edit(path, change)
        res = cli.invoke(app, ["import", "gadre", str(d)])
        message = " ".join(res.stderr.split())
        assert res.exit_code == 2 and expected in message, message
        assert str(path.name) in message
        assert counts(db_url) == before
        path.write_text(original)
    path = sorted((d / "models").glob("*.json"))[1]
    path.write_text(path.read_text()[:-50])
    res = cli.invoke(app, ["import", "gadre", str(d)])
    assert res.exit_code == 2 and "valid JSON" in res.stderr and path.name in res.stderr
    assert counts(db_url) == before
