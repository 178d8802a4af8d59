"""Evaluating a saved run end to end: a tiny dataset of two styles, a briefly trained model, eval.json."""
import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import write_two_styles
from helpers import evaluation, experiment
from helpers.experiment import DataConfig, Experiment
from helpers.losses import LossConfig
from helpers.models import PRESETS
from helpers.musicstats import STATISTICS
from helpers.pianoroll import GridFormat
from helpers.train import CheckpointError, TrainConfig, load_checkpoint

pytestmark = pytest.mark.slow  # trains and evaluates small runs end to end
CPU = torch.device("cpu")
T = 16  # one bar of 4/4


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two styles of ten 4-bar pieces: chords of quarter notes, and a line of eighth notes."""
    root = write_two_styles(tmp_path_factory.mktemp("midi"), "chords", "line", 10, 60, 60)
    data_dir = tmp_path_factory.mktemp("data")
    return root, data_dir


def spec_for(root, styles, n_styles, **model_changes):
    """One-bar segments of the tiny dataset, the smoke model, two epochs."""
    return Experiment(DataConfig(source=str(root), styles=styles, segment_bars=1, transpose=0, max_per_style=None),
                      replace(PRESETS["smoke"], n_styles=n_styles, **model_changes), LossConfig(beta_warmup=5),
                      TrainConfig(epochs=2, warmup_steps=2, batch_size=8))


def trained_run(run_dir, root, data_dir, styles, n_styles, judge=False, **model_changes):
    spec = spec_for(root, styles, n_styles, **model_changes).validate()
    splits = experiment.build_splits(spec.data, data_dir, progress=False)
    run = experiment.RunFolder(run_dir)
    model = experiment.build_model(spec, splits)
    experiment.train_vae(model, spec, splits, run, CPU, progress=False)
    if judge:
        experiment.train_judge(splits, run, epochs=2, batch_size=8, device=CPU)
    return splits


def test_basic_run(dataset, tmp_path):
    root, data_dir = dataset
    splits = trained_run(tmp_path, root, data_dir, ["chords"], 0)
    result = evaluation.evaluate_run(tmp_path, data_dir, n_samples=6, device=CPU, seed=3)
    assert result == json.loads((tmp_path / "eval.json").read_text())
    assert result["test_segments"] == len(splits.test)
    assert result["experiment"]["data"]["window"] == list(splits.format.window)
    n = result["test_nll"]
    assert n["elbo"] == pytest.approx(n["recon"] + n["kl"], abs=1e-3)
    assert n["elbo_per_step"] == pytest.approx(n["elbo"] / T, abs=1e-3)
    assert len(result["kl_per_dim"]) == 8 and sum(result["kl_per_dim"]) == pytest.approx(n["kl"], rel=0.05)
    assert result["threshold"]["chosen"] in evaluation.THRESHOLDS
    assert set(result["reconstruction"]) >= {"frame_f1", "frame_accuracy", "onset_f1", "note_f1"}
    assert all(0 <= v <= 1 for v in result["reconstruction"].values())
    assert set(result["sample_statistics"]["all"]) == set(STATISTICS)
    assert result["floor"]["chosen"] in evaluation.FLOORS
    assert result["floor"]["onset_temperature"] in evaluation.ONSET_TEMPERATURES
    assert set(result["floor"]["valid_distance"]) == {str(t) for t in evaluation.ONSET_TEMPERATURES}
    assert all(set(by_floor) == {str(f) for f in evaluation.FLOORS}
               for by_floor in result["floor"]["valid_distance"].values())
    assert set(result["sample_statistics_floored"]["all"]) == set(STATISTICS)
    # the drawing is chosen with the run's own seed, as the notebooks and `cli train` choose it, not with the
    # seed of the evaluation's draws
    model, spec, _ = experiment.load_run(tmp_path / "best.pt")
    assert spec.train.seed != 3
    floor, temperature, pairs = evaluation.choose_drawing(model, splits.valid.grids(), seed=spec.train.seed,
                                                          unit=splits.train)
    assert (result["floor"]["chosen"], result["floor"]["onset_temperature"]) == (floor, temperature)
    assert result["floor"]["valid_distance"] == {str(t): {str(f): evaluation._round(d) for (f, t2), d in pairs.items()
                                                          if t2 == t} for t in evaluation.ONSET_TEMPERATURES}
    curve = result["interpolation"]
    assert len(curve["frame_f1_to_a"]) == len(curve["frame_f1_to_b"]) == evaluation.INTERPOLATION_STEPS
    assert "style" not in result
    assert set(result["sample_statistics_style_region"]["all"]) == set(STATISTICS)  # the region of its pieces
    assert "bar_plan" not in result["diagnostics"]
    examples = np.load(tmp_path / "examples.npz")
    assert examples["originals"].shape[1:] == (T, 2, splits.format.n_pitches)
    assert GridFormat.from_dict(json.loads(str(examples["format"]))) == splits.format
    assert examples["stats_samples_all"].shape == (6, len(STATISTICS))

    # the latest epoch, measured beside best.pt's figures rather than over them
    before = (tmp_path / "eval.json").read_text()
    assert evaluation.main([str(tmp_path), "--checkpoint", "last", "--samples", "6", "--paths", "2"]) == 0
    last = json.loads((tmp_path / "eval-last.json").read_text())
    assert (last["checkpoint"], last["epoch"]) == ("last.pt", 2) and result["checkpoint"] == "best.pt"
    assert (tmp_path / "eval.json").read_text() == before and (tmp_path / "examples-last.npz").is_file()
    with pytest.raises(ValueError, match="checkpoint must be one of"):
        evaluation.evaluate_run(tmp_path, data_dir, checkpoint="first")
    with pytest.raises(ValueError, match="transfers must be positive"):
        evaluation.evaluate_run(tmp_path, data_dir, transfers=0)


def test_style_run_is_judged(dataset, tmp_path):
    root, data_dir = dataset
    trained_run(tmp_path, root, data_dir, ["chords", "line"], 2, judge=True, bar_plan=True)
    result = evaluation.evaluate_run(tmp_path, data_dir, n_samples=4, device=CPU, transfers=2, paths=2)
    assert 0 <= result["diagnostics"]["bar_plan"]["f1"] <= 1  # what the style model's plan says of each bar
    style = result["style"]
    assert result["samples_per_group"] == 2 and set(result["sample_statistics"]) == {"chords", "line"}
    assert set(style["generated_accuracy"]) == set(style["generated_accuracy_style_region"]) == {"chords", "line"}
    assert set(style["generated_accuracy_floored"]) == set(result["sample_statistics_floored"]) == {"chords", "line"}
    assert set(result["sample_statistics_style_region"]["line"]) == set(STATISTICS)
    for key in ("transfer_accuracy", "transfer_accuracy_shifted", "transfer_accuracy_shifted_drawn"):
        assert {a: set(row) for a, row in style[key].items()} == {"chords": {"line"}, "line": {"chords"}}
    notes = style["transfer_notes_per_step"]
    assert set(notes) == {"real", "transfer_accuracy", "transfer_accuracy_shifted", "transfer_accuracy_shifted_drawn"}
    assert all(set(v) == {"chords", "line"} and all(x >= 0 for x in v.values()) for v in notes.values())
    assert set(style["transfer_kept"]) == {"transfer_accuracy", "transfer_accuracy_shifted",
                                           "transfer_accuracy_shifted_drawn"}
    assert all(v is None or 0 <= v <= 1 for pair in style["transfer_kept"].values() for v in pair.values())
    curve = style["interpolation"]["chords->line"]
    assert len(curve["p_target_mean"]) == evaluation.INTERPOLATION_STEPS and curve["paths"] == 2
    assert 0 <= result["latent_classifier_accuracy"] <= 1


def test_several_judges_train_judge_and_ship_together(dataset, tmp_path):
    """JUDGES > 1: each member trains from its own seed in its own folder, resumes there, and the run's judge
    (loaded, or shipped with the model) is all of them, judging by their mean probability."""
    from helpers import metrics, pretrained

    root, data_dir = dataset
    splits = trained_run(tmp_path, root, data_dir, ["chords", "line"], 2)
    run = experiment.RunFolder(tmp_path)
    ensemble = experiment.train_judge(splits, run, epochs=2, batch_size=8, device=CPU, members=2)
    assert isinstance(ensemble, metrics.JudgeEnsemble) and len(ensemble.members) == 2
    assert [f.name for f in experiment.judge_folders(run, 2)] == ["judge", "member-1"]
    for folder in experiment.judge_folders(run, 2):  # each keeps its last epoch as its best.pt
        best, last = (load_checkpoint(folder / f"{which}.pt") for which in ("best", "last"))
        assert best["epoch"] == last["epoch"] == 2
        torch.testing.assert_close(best["model"], last["model"])
    first, second = (dict(m.named_parameters()) for m in ensemble.members)
    assert not torch.equal(first["conv1.weight"], second["conv1.weight"])  # seeds 0 and 1
    grids = splits.test.grids()
    mean = np.mean([metrics.predict(m, grids) for m in ensemble.members], axis=0)
    loaded = experiment.load_judge(run)  # the judges the notebook goes on with: each one's best.pt
    np.testing.assert_allclose(metrics.predict(loaded, grids), mean, atol=1e-5)
    again = experiment.train_judge(splits, run, epochs=2, batch_size=8, device=CPU, members=2)  # both finished
    np.testing.assert_allclose(metrics.predict(again, grids), mean, atol=1e-5)
    shutil.copy(run.judge / "member-1" / "best.pt", run.judge / "best.pt")  # another best for member 0
    returned = experiment.train_judge(splits, run, epochs=2, batch_size=8, device=CPU, members=2)
    torch.testing.assert_close(returned.members[0].state_dict(), ensemble.members[1].state_dict())  # best.pt's
    with pytest.raises(ValueError, match="JUDGES"):
        experiment.train_judge(splits, run, epochs=2, members=0)
    one = experiment.train_judge(splits, run, epochs=2, batch_size=8, device=CPU, members=1)  # JUDGES lowered
    assert not isinstance(one, metrics.JudgeEnsemble) and not isinstance(experiment.load_judge(run),
                                                                         metrics.JudgeEnsemble)
    experiment.train_judge(splits, run, epochs=2, batch_size=8, device=CPU, members=2)  # and raised again
    run.write_summary({"device": "cpu", "threshold": 0.3})
    pretrained.export(tmp_path, "style", folder=tmp_path / "shipped")
    judge = pretrained.load("style", folder=tmp_path / "shipped")[3]
    assert len(judge.members) == 2
    np.testing.assert_allclose(metrics.predict(judge, grids), mean, atol=0.01)  # stored as float16


def test_the_floor_is_the_lowest_that_brings_samples_closest(dataset, tmp_path):
    """choose_floor measures every floor on the same draws and keeps the lowest within the tolerance of the
    best; a floor that silences the samples is never chosen. Its unit is the spread of each style's training
    segments when it is given them, as the notebooks and the evaluation give them."""
    root, data_dir = dataset
    splits = trained_run(tmp_path, root, data_dir, ["chords", "line"], 2)
    model = experiment.load_run(tmp_path)[0]
    valid, labels = splits.valid.grids(), splits.valid.style
    floors = (0.0, 0.05, 0.999)
    floor, distance = evaluation.choose_floor(model, valid, labels, floors=floors, samples=8, unit=splits.train)
    assert list(distance) == [0.0, 0.05, 0.999] and floor != 0.999
    best = min(distance.values())
    assert distance[floor] <= best + evaluation.FLOOR_TOLERANCE
    assert all(distance[f] > best + evaluation.FLOOR_TOLERANCE for f in distance if f < floor)
    again = evaluation.choose_floor(model, valid, labels, floors=floors, samples=8, unit=splits.train)
    assert again == (floor, distance)  # seeded: the same draws every time
    # the unit: up to `limit` training segments of each style; without one, the validation segments' own spread
    units = evaluation.unit_statistics(model, splits.train, limit=3)
    assert set(units) == {0, 1} and all(len(stats["polyphony"]) == 3 for stats in units.values())
    own = evaluation.choose_floor(model, valid, labels, floors=floors, samples=8)[1]
    assert own != distance

    # With the onset temperature: every pair drawn; of those within the tolerance of the best, the lowest
    # temperature, then the lowest floor; choose_floor is its column at temperature 1.
    both = dict(floors=floors, temperatures=(1.0, 1.5), samples=8, unit=splits.train)
    floor, temperature, pairs = evaluation.choose_drawing(model, valid, labels, **both)
    assert set(pairs) == {(f, t) for t in (1.0, 1.5) for f in floors}
    assert all(pairs[f, 1.0] == distance[f] for f in floors)
    best = min(pairs.values())
    assert (temperature, floor) == min((t, f) for (f, t), d in pairs.items() if d <= best + evaluation.FLOOR_TOLERANCE)
    # a value given is kept, and only the other chosen
    kept = evaluation.choose_drawing(model, valid, labels, floor=0.05, **both)
    assert kept[0] == 0.05 and kept[2] == {(0.05, t): pairs[0.05, t] for t in (1.0, 1.5)}
    assert evaluation.choose_drawing(model, valid, labels, onset_temperature=1.5, **both)[1] == 1.5
    with pytest.raises(ValueError, match="onset_temperature must be a number > 0"):
        evaluation.choose_drawing(model, valid, labels, onset_temperature=0, **both)
    with pytest.raises(ValueError, match="every one of temperatures must be"):
        evaluation.choose_drawing(model, valid, labels, floors=floors, temperatures=(1.0, -1.0))
    with pytest.raises(ValueError, match="every one of floors must be"):
        evaluation.choose_floor(model, valid, labels, floors=(0.0, 1.5))


def test_a_folder_without_a_run_is_named(tmp_path):
    with pytest.raises(CheckpointError, match=str(tmp_path.name)):
        evaluation.evaluate_run(tmp_path)
    assert evaluation.main([str(tmp_path)]) == 1
    with pytest.raises(CheckpointError, match="no last.pt"):
        evaluation.evaluate_run(tmp_path, checkpoint="last")
