"""The notebooks: each .ipynb matches its .py source and carries no outputs; each runs headless (SMOKE)."""
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import jupytext
import pytest

from helpers import evaluation
from helpers.pianoroll import read_midi

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
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


def run_notebook(name, tmp_path, cwd=NOTEBOOKS, local=True, **parameters):
    import papermill

    out = tmp_path / f"{name}.out.ipynb"
    parameters = dict(SMOKE=True, **parameters)
    if local:
        parameters.update(DATA_DIR=str(tmp_path / "data"), RUNS_DIR=str(tmp_path / "runs"))
    papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out), parameters=parameters,
                               cwd=str(cwd), progress_bar=False, kernel_name="python3")
    text = "".join(o.get("text", "") for c in jupytext.read(out).cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    return text


@pytest.mark.slow
def test_basic_notebook_runs_headless_and_resumes(tmp_path):
    text = run_notebook("01_basic_vae", tmp_path)
    run = tmp_path / "runs" / "basic-smoke"
    for name in ("last.pt", "best.pt", "history.json", "history.csv", "loss.png", "reconstructions.png",
                 "interpolation/interpolation.mid", "interpolation/interpolation.wav",
                 "region/sample_from_region.mid", "region/sample_from_region.wav"):
        assert (run / name).is_file(), name
    samples = sorted((run / "samples").glob("*.mid"))
    assert len(samples) == 2 and len(list((run / "samples").glob("*.wav"))) == 2
    for midi in samples + [run / "interpolation" / "interpolation.mid"]:
        assert len(read_midi(midi).notes) > 0, midi.name  # loads back, with notes in it
    assert "active latent dimensions" in text and "done in" in text and "best.pt: epoch" in text
    assert re.search(r"64 samples from the prior: furthest statistic .*\n64 samples from the training pieces' "
                     r"region: furthest statistic", text)
    # The notebook's reconstruction figures are the evaluation's: one run, one figure per metric.
    summary = json.loads((run / "summary.json").read_text())
    evaluated = evaluation.evaluate_run(run, tmp_path / "data", n_samples=4)
    assert summary["threshold"] == evaluated["threshold"]["chosen"]
    assert summary["floor"] == evaluated["floor"]["chosen"]  # the floor and temperature chosen as the notebook chose
    assert summary["onset_temperature"] == evaluated["floor"]["onset_temperature"] in evaluation.ONSET_TEMPERATURES
    assert summary["test_scores"] == pytest.approx(evaluated["reconstruction"], abs=1e-4)
    # Run again with the same run name and more epochs: refused unless asked for as an extension; then
    # training resumes, it does not start over.
    with pytest.raises(Exception, match="planned for 2 epochs"):
        run_notebook("01_basic_vae", tmp_path, EPOCHS=3)
    text = run_notebook("01_basic_vae", tmp_path, EPOCHS=3, EXTEND=True)
    assert "resuming" in text and "after epoch 2 of 3" in text


@pytest.mark.slow
def test_basic_notebook_learns_a_folder_of_waltzes_in_their_metre(tmp_path):
    from conftest import STEP, write_midi

    for k in range(12):  # 16 bars of 3/4: a bass note on the downbeat, a chord on beats two and three
        notes = [(48 + (b + k) % 5, b * 12 * STEP, (b * 12 + 4) * STEP) for b in range(16)]
        notes += [(60 + (b * 3 + k) % 7 + i, (b * 12 + q) * STEP, (b * 12 + q + 4) * STEP)
                  for b in range(16) for q in (4, 8) for i in (0, 4)]
        write_midi(tmp_path / "waltzes" / "waltz" / f"w{k}.mid", notes, time_signatures=[(0, 3, 4)])
    text = run_notebook("01_basic_vae", tmp_path, SOURCE=str(tmp_path / "waltzes"), STYLES="",
                        TIME_SIGNATURE="3/4", NOTE_ENDS="joint")  # chords whose notes end together
    row = next(line for line in text.splitlines() if line.startswith("waltz")).split()
    assert "in 3/4" in text and int(row[5]) > 0 and row[6] == "0"  # every segment kept, none of another metre
    samples = sorted((tmp_path / "runs" / "basic-smoke" / "samples").glob("*.mid"))
    assert samples and all(tuple(read_midi(f).time_signature) == (3, 4) for f in samples)  # written in 3/4
    assert json.loads((tmp_path / "runs" / "basic-smoke" / "spec.json").read_text())["model"]["note_ends"] == "joint"


@pytest.mark.slow
def test_style_notebook_runs_headless_on_a_folder_with_every_other_design(tmp_path):
    """Your own styles, one of them with a single piece (it trains, none is held out, and the notebook goes on),
    with every other design at once: a hierarchical decoder with a chord model and its voices over frames,
    scheduled sampling, a style code and its adversary, best.pt chosen by reconstructions (the next test runs
    the defaults on the corpus)."""
    from conftest import write_two_styles

    root = write_two_styles(tmp_path / "mine", "chords", "line", 10, 48, 60)
    (root / "rare").mkdir()
    shutil.copy(root / "line" / "l0.mid", root / "rare" / "only.mid")
    text = run_notebook("02_style_vae", tmp_path, SOURCE=str(root), STYLES="", PRESET="hierarchical", CHORDS="nade",
                        CHORD_VOICES=True, NOTES="frames", NOTE_ENDS="length", SCHEDULED_SAMPLING=0.5,
                        STYLE_LATENT=2, STYLE_ADVERSARY=1.0, MONITOR="free_f1", STYLE_FROM="rare", STYLE_TO="line")
    assert "(free_f1 " in text.split("best.pt: epoch", 1)[1].splitlines()[0]
    # the judge's accuracy and the attribute strips leave out the style with no held-out piece, and say so
    assert "'rare': 'none held out'" in text and "rare: none held out" in text
    run = tmp_path / "runs" / "style-smoke"
    styles = ("chords", "line", "rare")
    written = {name: sorted((run / "styles" / name).glob("*.mid")) for name in styles}
    assert all(len(files) == 2 for files in written.values()), written
    interpolation = run / "style_interpolation" / "rare_to_line.mid"  # STYLE_FROM, STYLE_TO
    transfers = sorted((run / "transfer").glob("*.mid"))
    assert not transfers and "no held-out segment of rare to transfer" in text  # its one piece trains
    for midi in [f for files in written.values() for f in files] + [interpolation] + transfers:
        assert len(read_midi(midi).notes) > 0, midi.name  # loads back, with notes in it
    report = json.loads((run / "summary.json").read_text())
    assert set(report["judge_real_accuracy"]) == {*styles, "all"} and report["judge_real_accuracy"]["rare"] is None
    assert set(report["generated_accuracy"]) == set(report["generated_accuracy_style_region"]) == set(styles)
    assert sorted(f.name for f in (run / "style_regions").glob("*.mid")) == ["chords.mid", "line.mid", "rare.mid"]
    assert len(report["interpolation_prob_b"]) == 5 and report["transfer"] == {
        "from": "rare", "to": "line", "accuracy": None, "accuracy_embedding_only": None, "mode": "bernoulli"}
    assert (run / "latent_map.png").is_file() and "latent classifier accuracy" in text
    # the attribute vector moves held-out pieces of every style that has some, five amounts each, one strip a style
    assert report["attribute"]["name"] == "notes_per_bar" and len(report["attribute"]["amounts"]) == 5
    assert set(report["attribute"]["means"]) == {"chords", "line"}
    assert all(len(means) == 5 for means in report["attribute"]["means"].values())
    assert sorted(f.name for f in (run / "attributes").glob("*.mid")) == [
        "chords_notes_per_bar.mid", "line_notes_per_bar.mid"]


@pytest.mark.slow
def test_style_notebook_runs_headless_with_its_defaults(tmp_path):
    """The default design (autoregressive, chords with voices, notes ended by onsets, best.pt by samples)."""
    text = run_notebook("02_style_vae", tmp_path)
    assert "(sample_distance " in text.split("best.pt: epoch", 1)[1].splitlines()[0]
    run = tmp_path / "runs" / "style-smoke"
    report = json.loads((run / "summary.json").read_text())
    assert set(report["generated_accuracy"]) == {"bach", "folk", "palestrina"}
    assert report["transfer"]["from"] == "bach" and report["transfer"]["to"] == "palestrina"  # first and last
    assert len(list((run / "transfer").glob("*.mid"))) == 2


def run_first_cells(name, tmp_path, monkeypatch, **parameters):
    """The notebook's cells before its data section, run in this process as papermill runs them (the parameters
    cell, then the given parameters, from the notebook's folder): where every setting is checked, without a
    kernel started for each setting."""
    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    parameters = dict(SMOKE=True, DATA_DIR=str(tmp_path / "data"), RUNS_DIR=str(tmp_path / "runs"), **parameters)
    first = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
    sources = [notebook.cells[first].source, "\n".join(f"{k} = {v!r}" for k, v in parameters.items())]
    for cell in notebook.cells[first + 1:]:
        if cell.cell_type == "markdown" and cell.source.startswith("## Data"):
            break
        if cell.cell_type == "code":
            sources.append(cell.source)
    assert len(sources) >= 4, f"{name}: no data section after its set-up cells"
    monkeypatch.chdir(NOTEBOOKS)
    namespace = {"__name__": "__main__"}
    for i, source in enumerate(sources):
        exec(compile(source, f"{name} cell {i}", "exec"), namespace)
    return namespace


BAD_SETTINGS = [("01_basic_vae", {"LATENT": -1}, "VAEConfig.latent"),
               ("02_style_vae", {"BETA": -0.5}, "LossConfig.beta"),
               ("01_basic_vae", {"NOTES": "frames", "NOTE_ENDS": "onsets"}, "VAEConfig.note_ends"),
               ("02_style_vae", {"CHORDS": "independent"}, "VAEConfig.chord_voices"),
               ("02_style_vae", {"TRANSFER_MODE": "greedy"}, "TRANSFER_MODE"),
               ("02_style_vae", {"STYLE_TO": "jazz"}, r"STYLE_TO 'jazz' is not one of the styles \['bach'"),
               ("02_style_vae", {"STYLE_FROM": "folk", "STYLE_TO": "folk"}, "STYLE_FROM and STYLE_TO must be two"),
               ("01_basic_vae", {"ONSET_WEIGHT": -1}, "LossConfig.onset_weight"),
               ("01_basic_vae", {"MONITOR": "elbo"}, "TrainConfig.monitor"),
               ("01_basic_vae", {"EPOCHS": 0}, "TrainConfig.epochs"),
               ("01_basic_vae", {"FLOOR": 1.5}, "FLOOR must be"),
               ("02_style_vae", {"FLOOR": "0.02"}, "FLOOR must be"),
               ("01_basic_vae", {"ONSET_TEMPERATURE": 0}, "ONSET_TEMPERATURE must be a number > 0"),
               ("02_style_vae", {"ONSET_TEMPERATURE": "1.3"}, "ONSET_TEMPERATURE must be a number > 0"),
               ("02_style_vae", {"JUDGES": 0}, "JUDGES must be"),
               ("02_style_vae", {"INTERPOLATION_STEPS": 1}, "INTERPOLATION_STEPS must be"),
               ("01_basic_vae", {"QPM": 0}, "QPM must be"),
               ("01_basic_vae", {"TIME_SIGNATURE": "3-4"}, "DataConfig.time_signature"),
               ("02_style_vae", {"ANY_METRE": "yes"}, "DataConfig.any_metre"),
               ("01_basic_vae", {"ATTRIBUTE": "loudness"}, "ATTRIBUTE must be"),
               ("02_style_vae", {"ATTRIBUTE_AMOUNT": 0}, "ATTRIBUTE_AMOUNT must be"),
               ("01_basic_vae", {"MY_MIDI": "no/such.mid"}, "MY_MIDI.*such.mid")]


@pytest.mark.parametrize("name, setting, message", BAD_SETTINGS)
def test_a_bad_setting_is_refused_in_the_first_cells_even_in_smoke(tmp_path, monkeypatch, name, setting, message):
    """SMOKE replaces the sizes by small ones: the settings as given are checked before, not skipped."""
    with pytest.raises(Exception, match=message):
        run_first_cells(name, tmp_path, monkeypatch, **setting)
    assert not (tmp_path / "data").exists()  # refused before anything was built


def test_the_first_cells_accept_the_defaults(tmp_path, monkeypatch):
    """The other side of the refusals: with every default, the same cells run through and build nothing yet."""
    for name in ("01_basic_vae", "02_style_vae"):
        namespace = run_first_cells(name, tmp_path, monkeypatch)
        assert namespace["spec"].train.epochs > 0
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_a_bad_setting_stops_the_notebook_in_its_kernel(tmp_path):
    """The same refusal through papermill and a kernel, as a user meets it."""
    with pytest.raises(Exception, match="VAEConfig.latent"):
        run_notebook("01_basic_vae", tmp_path, LATENT=-1)
    assert not (tmp_path / "data").exists()


# --------------------------------------------------------------------------- a simulated Colab runtime

COLAB_STAND_IN = {
    "google/colab/__init__.py": "from . import drive, files\n",
    "google/colab/drive.py": """
import os
from pathlib import Path


def mount(mountpoint, force_remount=False, **kwargs):
    if os.environ.get("COLAB_SIM_DECLINE"):  # what Colab raises when the authorisation is declined
        raise ValueError("mount failed")
    (Path(mountpoint) / "MyDrive").mkdir(parents=True, exist_ok=True)
""",
    "google/colab/files.py": """
import os
from pathlib import Path


def _log(line):
    with open(os.environ["COLAB_SIM_LOG"], "a") as f:
        f.write(line + "\\n")


def download(path):
    _log(f"download {path}")


def upload():
    chosen = sorted(Path(os.environ["COLAB_SIM_UPLOAD"]).iterdir())
    _log("upload " + " ".join(p.name for p in chosen))
    return {p.name: p.read_bytes() for p in chosen}
""",
    # Colab's kernel has google.colab imported from the start: so does this one.
    "sitecustomize.py": "import google.colab  # noqa: F401\n",
}


@pytest.fixture
def colab(tmp_path, monkeypatch, midi_file):
    """A Colab runtime for papermill's kernels: google.colab (Drive, upload, download) imported at start-up,
    REPO a copy of this repository that pip installs into its own folder (offline), /content a fresh folder."""
    sim, site, content = tmp_path / "colab", tmp_path / "site", tmp_path / "content"
    for name, text in COLAB_STAND_IN.items():
        (sim / name).parent.mkdir(parents=True, exist_ok=True)
        (sim / name).write_text(text)
    copy = tmp_path / "repository"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in tracked.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    uploads = tmp_path / "uploads"
    midi_file("uploads/mine.mid", notes=[(60 + i % 5, i * 240, (i + 1) * 240) for i in range(64)])
    (uploads / "broken.mid").write_bytes(b"MThd, but nothing after it")
    content.mkdir()
    env = {"PYTHONPATH": f"{sim}{os.pathsep}{site}", "GRIDVAE_DRIVE_MOUNT": str(tmp_path / "drive"),
           "COLAB_SIM_LOG": str(tmp_path / "colab.log"), "COLAB_SIM_UPLOAD": str(uploads),
           # pip: into its own folder, without dependencies (the test environment has them), offline
           "PIP_TARGET": str(site), "PIP_NO_DEPS": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_NO_INDEX": "1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "colab.log").touch()
    return {"repo": str(copy), "site": site, "content": content, "drive": tmp_path / "drive" / "MyDrive" / "gridvae",
            "log": tmp_path / "colab.log"}


@pytest.mark.slow
def test_basic_notebook_in_colab_installs_from_repo_keeps_runs_on_drive_and_resumes(tmp_path, colab):
    text = run_notebook("01_basic_vae", tmp_path, cwd=colab["content"], local=False, REPO=colab["repo"],
                        MY_MIDI="upload")
    assert (colab["site"] / "helpers" / "pretrained" / "basic.pt").is_file()  # installed from REPO, with its models
    run = colab["drive"] / "runs" / "basic-smoke"
    assert (run / "last.pt").is_file() and (colab["drive"] / "data").is_dir()
    assert "mine.mid: 2 segment(s)" in text and "broken.mid: left out" in text  # 8 bars: two 4-bar segments
    assert (run / "my_midi" / "mine_then_reconstruction.wav").is_file()
    log = colab["log"].read_text().splitlines()
    assert "upload broken.mid mine.mid" in log and f"download {run / 'music.zip'}" in log
    with zipfile.ZipFile(run / "music.zip") as z:
        kinds = {Path(n).suffix for n in z.namelist()}
    assert kinds == {".mid", ".wav", ".png"}
    # A new runtime, the same run name: training resumes from Drive instead of starting over.
    text = run_notebook("01_basic_vae", tmp_path, cwd=colab["content"], local=False, REPO=colab["repo"])
    assert "resuming" in text and "after epoch 2 of 2" in text


@pytest.mark.slow
def test_style_notebook_in_colab_pretrained_without_drive(tmp_path, colab, monkeypatch):
    monkeypatch.setenv("COLAB_SIM_DECLINE", "1")
    text = run_notebook("02_style_vae", tmp_path, cwd=colab["content"], local=False, REPO=colab["repo"],
                        PRETRAINED=True, STYLES="bach,folk")
    assert "Google Drive was not mounted" in text and "vanish" in text
    run = colab["content"] / "gridvae" / "runs" / "style-smoke-pretrained"
    assert "shipped model 'style'" in text and "first audio" in text
    assert "not used: data.styles: ('bach', 'folk') here, ('bach', 'folk', 'palestrina') in the model" in text
    assert not (run / "last.pt").exists()  # nothing trained
    summary = json.loads((run / "summary.json").read_text())
    assert summary["pretrained"] and set(summary["generated_accuracy"]) == {"bach", "folk", "palestrina"}
    assert len(list((run / "styles").rglob("*.wav"))) == 6
    assert 0 <= min(summary["generated_accuracy_style_region"].values())


@pytest.mark.slow
def test_colab_setup_stops_with_what_to_set_when_repo_cannot_be_installed(tmp_path, colab):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as err:
        run_notebook("01_basic_vae", tmp_path, cwd=colab["content"], local=False, REPO=str(tmp_path / "nowhere"))
    assert err.value.ename == "SetupError"  # shown as its message, not as a traceback
    assert "Set REPO in the first cell" in str(err.value) and "nowhere" in str(err.value)
    assert "Traceback" not in str(err.value) and "subprocess" not in "".join(err.value.traceback)
