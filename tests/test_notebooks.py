"""The notebooks: each .ipynb matches its .py source and carries no outputs; each runs headless (SMOKE)."""
import json
from pathlib import Path

import jupytext
import pytest

from helpers import evaluation
from helpers.pianoroll import read_midi

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("*.py"))


def test_there_are_notebooks():
    assert [p.name for p in SOURCES] == ["01_basic_vae.py", "02_style_vae.py"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_ipynb_matches_its_py_and_has_no_outputs(source):
    paired = source.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} missing: run jupytext --sync {source.name}"
    py, nb = jupytext.read(source), jupytext.read(paired)
    assert [(c.cell_type, c.source) for c in py.cells] == [(c.cell_type, c.source) for c in nb.cells], \
        f"{paired.name} differs from {source.name}: run jupytext --sync"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{paired.name} carries outputs"
    assert "parameters" in py.cells[1].metadata.get("tags", []), "the first code cell holds the parameters"
    assert "colab.research.google.com" in py.cells[0].source, "an Open in Colab badge at the top"


def run_notebook(name, tmp_path, **parameters):
    import papermill

    out = tmp_path / f"{name}.out.ipynb"
    parameters = dict(SMOKE=True, DATA_DIR=str(tmp_path / "data"), RUNS_DIR=str(tmp_path / "runs"), **parameters)
    papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out), parameters=parameters,
                               cwd=str(NOTEBOOKS), progress_bar=False, kernel_name="python3")
    text = "".join(o.get("text", "") for c in jupytext.read(out).cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    return text


@pytest.mark.slow
def test_basic_notebook_runs_headless_and_resumes(tmp_path):
    text = run_notebook("01_basic_vae", tmp_path)
    run = tmp_path / "runs" / "basic-smoke"
    for name in ("last.pt", "best.pt", "history.json", "history.csv", "loss.png", "reconstructions.png",
                 "interpolation/interpolation.mid", "interpolation/interpolation.wav"):
        assert (run / name).is_file(), name
    samples = sorted((run / "samples").glob("*.mid"))
    assert len(samples) == 2 and len(list((run / "samples").glob("*.wav"))) == 2
    for midi in samples + [run / "interpolation" / "interpolation.mid"]:
        assert len(read_midi(midi).notes) > 0, midi.name  # loads back, with notes in it
    assert "active latent dimensions" in text and "done in" in text
    # The notebook's reconstruction figures are the evaluation's: one run, one figure per metric.
    summary = json.loads((run / "summary.json").read_text())
    evaluated = evaluation.evaluate_run(run, tmp_path / "data", n_samples=4)
    assert summary["threshold"] == evaluated["threshold"]["chosen"]
    assert summary["test_scores"] == pytest.approx(evaluated["reconstruction"], abs=1e-4)
    # Run again with the same run name and more epochs: training resumes, it does not start over.
    text = run_notebook("01_basic_vae", tmp_path, EPOCHS=3)
    assert "resuming" in text and "after epoch 2 of 3" in text


@pytest.mark.slow
def test_style_notebook_runs_headless(tmp_path):
    text = run_notebook("02_style_vae", tmp_path)
    run = tmp_path / "runs" / "style-smoke"
    written = {name: sorted((run / "styles" / name).glob("*.mid")) for name in ("bach", "folk", "palestrina")}
    assert all(len(files) == 2 for files in written.values()), written
    interpolation = run / "style_interpolation" / "bach_to_palestrina.mid"
    transfers = sorted((run / "transfer").glob("*.mid"))
    assert len(transfers) == 2
    for midi in [f for files in written.values() for f in files] + [interpolation] + transfers:
        assert len(read_midi(midi).notes) > 0, midi.name  # loads back, with notes in it
    report = json.loads((run / "summary.json").read_text())
    assert set(report["judge_real_accuracy"]) == {"bach", "folk", "palestrina", "all"}
    assert set(report["generated_accuracy"]) == {"bach", "folk", "palestrina"}
    assert len(report["interpolation_prob_b"]) == 5 and 0 <= report["transfer"]["accuracy"] <= 1
    assert (run / "latent_map.png").is_file() and "latent classifier accuracy" in text
