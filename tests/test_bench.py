"""The benchmarks write their figures with the machine's description."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench import bench_generate, machine


def test_generation_benchmark_writes_its_figures(tmp_path, capsys):
    out = tmp_path / "results" / "generate.json"
    results = bench_generate.main(["--checkpoint", str(tmp_path / "none.pt"), "--pieces", "3", "--repeats", "1",
                                   "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved == results
    assert saved["model"] == "untrained autoregressive preset" and saved["pieces"] == 3
    assert saved["total_s"] >= saved["sample_s"] > 0 and saved["pieces_per_s"] > 0
    assert {"cpu", "cores", "memory_gib", "python", "torch", "gpu"} <= set(saved["machine"])
    assert f"written to {out}" in capsys.readouterr().out


def test_machine_description_is_json():
    info = machine.describe()
    assert info["cores"] >= 1 and json.loads(json.dumps(info)) == info


def test_every_decoder_design_is_a_valid_experiment_and_builds():
    from dataclasses import replace

    from bench import bench_decoders
    from helpers.models import GridVAE
    from helpers.pianoroll import GridFormat

    fmt = GridFormat(low=60, high=71, segment_bars=1)
    for name in bench_decoders.DESIGNS:
        spec = bench_decoders.design_spec(name, seed=1, epochs=3)
        assert spec.train.seed == 1 and spec.train.epochs == 3
        assert spec.train.monitor == ("sample_distance" if name.endswith("-samples") else "free_f1")
        assert bool(spec.model.n_styles) == name.startswith("style")
        GridVAE(replace(spec.model, format=fmt, n_styles=3 if spec.model.n_styles else 0))
    assert bench_decoders.design_spec("seed", 0, 1).model.decoder == "seed"
    assert not spec.train.extend and bench_decoders.design_spec("seed", 0, 5, extend=True).train.extend


def test_decoder_ablation_collects_nothing_from_an_empty_folder(tmp_path):
    from bench import bench_decoders

    result = bench_decoders.collect(tmp_path, tmp_path / "ablation.json")
    assert result == {"runs": [], "designs": {}} and (tmp_path / "ablation.json").is_file()
    assert bench_decoders.main(["--collect", "--runs-dir", str(tmp_path), "--out", str(tmp_path / "a.json"),
                                "--conditions", "one CPU"]) == 0
    assert json.loads((tmp_path / "a.json").read_text())["conditions"] == "one CPU"
    with pytest.raises(SystemExit):  # refused before anything runs
        bench_decoders.main(["--threads", "0", "--only", "seed", "--runs-dir", str(tmp_path)])
    assert not list(tmp_path.glob("seed-*"))


def _fake_eval(epoch: int, f1: float) -> dict:
    """The parts of an eval.json the ablation gathers."""
    return {"epoch": epoch, "reconstruction": {"frame_f1": f1, "onset_f1": f1, "note_f1": f1},
            "threshold": {"chosen": 0.3}, "test_nll": {"kl": 10.0, "elbo": 300.0}, "active_dims": 32,
            "diagnostics": {"teacher_forced": {"frame_f1": 0.9}, "shuffled_codes": {"frame_f1": 0.2},
                            "onset_probability": {"median": 0.3}},
            "sample_statistics": {"all": {"polyphony": {"distance": 1.5, "real_mean": 4.0, "generated_mean": 3.0}}}}


def test_decoder_ablation_keeps_the_last_epoch_beside_the_best(tmp_path):
    from bench import bench_decoders

    info = {"design": "seed", "device": "cpu", "epochs_planned": 40, "epochs_done": 40, "stopped_by_time": False,
            "steps": 2480, "train_seconds": 1.0}
    for seed, best_epoch in ((0, 6), (1, 40)):
        run = tmp_path / f"seed-s{seed}"
        run.mkdir()
        (run / "ablation.json").write_text(json.dumps(dict(info, seed=seed)))
        (run / "eval.json").write_text(json.dumps(_fake_eval(best_epoch, 0.3)))
        (run / "eval-last.json").write_text(json.dumps(_fake_eval(40, 0.2)))
    result = bench_decoders.collect(tmp_path, tmp_path / "ablation.json")
    rows = [(r["seed"], r["checkpoint"], r["epoch"], r["reconstruction"]["frame_f1"]) for r in result["runs"]]
    # seed 1's last epoch is its best: one row; the design's mean is over best.pt only
    assert rows == [(0, "best", 6, 0.3), (0, "last", 40, 0.2), (1, "best", 40, 0.3)]
    assert result["designs"]["seed"]["frame_f1"] == 0.3 and result["designs"]["seed"]["seeds"] == [0, 1]
    # a run folder gone, its rows stay; --fresh drops them
    shutil.rmtree(tmp_path / "seed-s1")
    kept = bench_decoders.collect(tmp_path, tmp_path / "ablation.json")
    assert [(r["seed"], r["checkpoint"]) for r in kept["runs"]] == [(0, "best"), (0, "last"), (1, "best")]
    fresh = bench_decoders.collect(tmp_path, tmp_path / "ablation.json", fresh=True)
    assert [(r["seed"], r["checkpoint"]) for r in fresh["runs"]] == [(0, "best"), (0, "last")]
    with pytest.raises(SystemExit):  # --last measures runs before gathering them, so it goes with --collect
        bench_decoders.main(["--last", "--runs-dir", str(tmp_path)])


def test_decoding_benchmark_scores_every_rule_and_the_oracle_bounds_them():
    import numpy as np
    import torch

    from bench import bench_decoding
    from helpers.evaluation import THRESHOLDS
    from helpers.models import GridVAE, preset
    from helpers.pianoroll import GridFormat

    torch.manual_seed(0)
    model = GridVAE(preset("smoke", decoder="autoregressive", format=GridFormat(low=60, high=71,
                                                                                 segment_bars=1))).eval()
    rng = np.random.default_rng(0)
    grids = np.zeros((6, 16, 2, 12), dtype=bool)
    grids[:, :, 0] = rng.random((6, 16, 12)) < 0.3
    grids[:, ::4, 1] = grids[:, ::4, 0]
    result = bench_decoding.measure(model, grids, candidates=3)
    assert set(result["threshold"]) == {str(th) for th in THRESHOLDS}
    assert set(result["rescored"]) == {"likelihood", "re_encoding", "both", "oracle"}
    oracle = result["rescored"]["oracle"]["frame_f1"]
    # The likelihood rule keeps each segment's most likely candidate: on average at least as likely as any one kind.
    z = torch.zeros(len(grids), model.config.latent)
    assert bench_decoding.log_likelihood(model, z, grids).shape == (6,)
    assert result["log_likelihood"]["kept_by_likelihood"] >= max(
        result["log_likelihood"][k] for k in ("best_threshold", "threshold_0.5", "bernoulli")) - 1e-4
    assert 0 <= oracle <= 1 and result["segments"] == 6 and result["candidates"] == 3


def test_lines_tell_gaps_overlaps_and_notes_started_together_apart():
    from bench.bench_lines import lines

    grid = np.zeros((1, 8, 2, 3), bool)
    grid[0, 0:3, :, 0] = [[1, 1], [1, 0], [1, 0]]  # a note of 3 steps
    grid[0, 3:5, :, 1] = [[1, 1], [1, 0]]          # the next starts as it ends: a line
    grid[0, 4, :, 2] = [1, 1]                      # a note starts while the last is held on
    grid[0, 6, :, 0] = grid[0, 6, :, 1] = [1, 1]   # after a gap, two notes start together
    figures = lines(grid)
    assert figures["sounding"] == 6 / 8  # steps 5 and 7 are silent
    assert figures["two_onsets"] == 1 / 6 and figures["held_into_onset"] == 1 / 6
    assert figures["polyphony"] == pytest.approx(8 / 6)


def test_one_onset_steps_read_what_the_decoder_gives_the_real_onset_and_the_others():
    from bench.bench_lines import one_onset_steps

    grid = np.zeros((1, 4, 2, 3), bool)
    grid[0, 0, :, 0] = grid[0, 0, :, 1] = True  # two onsets: not counted
    grid[0, 1, :, 2] = True                      # one onset (pitch 2)
    grid[0, 3, :, 1] = True                      # one onset (pitch 1); step 2 has none
    probs = np.full((1, 4, 2, 3), 0.5)
    probs[0, 1, 1] = [0.1, 0.2, 0.7]
    probs[0, 3, 1] = [0.3, 0.4, 0.0]
    figures = one_onset_steps(grid, probs)
    assert figures["steps"] == 2
    assert figures["p_onset"] == pytest.approx((0.7 + 0.4) / 2)
    assert figures["other_onsets"] == pytest.approx((0.3 + 0.3) / 2)
    assert one_onset_steps(np.zeros((1, 4, 2, 3), bool), probs)["steps"] == 0


def test_notebook_timing_counts_the_probes_and_estimates_the_default_plan(tmp_path, capsys):
    from bench import bench_notebooks

    assert [bench_notebooks.probes(n) for n in (1, 3, 40, 50, 51, 150)] == [1, 3, 40, 50, 26, 50]
    run = tmp_path / "gpu-basic"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"device": "cuda", "notebook_seconds": 60.0,
                                                  "train_seconds": 20.0}))
    history = [{"epoch": e, "step": 10 * e, "step_seconds": s, "seconds": s + r}
               for e, s, r in ((1, 9.0, 5.0), (2, 2.0, 1.0), (3, 4.0, 3.0))]
    (run / "history.json").write_text(json.dumps(history))
    f = bench_notebooks.figures(run)
    # the first epoch (warm-up) left out: steps 3 s, the rest 2 s; 150 epochs on a GPU, 50 of them probed
    assert f["notebook"] == "basic" and f["steps_per_epoch"] == 10 and f["outside_training_s"] == 40.0
    assert (f["epoch_steps_s"], f["epoch_rest_s"], f["default_epochs"], f["default_probes"]) == (3.0, 2.0, 150, 50)
    assert f["default_notebook_min"] == [round((40 + 150 * 3 + 50 * 2) / 60, 1), round((40 + 150 * 5) / 60, 1)]
    out = tmp_path / "notebooks.json"
    saved = bench_notebooks.main(["--collect", str(run), "--conditions", "a GPU", "--out", str(out)])
    assert json.loads(out.read_text()) == saved and saved["machine"] == {"conditions": "a GPU"}
    assert "its default 150 epochs: about 10-13 min" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench_notebooks.main(["--collect", str(run), "--out", str(out)])  # where they ran is required


def trained_run(tmp_path, model_changes: dict, train_seed: int = 0, **data) -> Path:
    """A smoke-sized model trained one epoch with ``train_seed`` on the MIDI folder ``tmp_path/src`` (2-bar
    segments, no transposition, ``data`` more data settings), in ``tmp_path/run`` with its data cache in
    ``tmp_path/data``."""
    from dataclasses import replace

    import torch

    from helpers import experiment
    from helpers.losses import LossConfig
    from helpers.models import PRESETS
    from helpers.train import TrainConfig

    spec = experiment.Experiment(
        experiment.DataConfig(source=str(tmp_path / "src"), segment_bars=2, transpose=0, max_per_style=None, **data),
        replace(PRESETS["smoke"], **model_changes), LossConfig(beta_warmup=5),
        TrainConfig(epochs=1, warmup_steps=1, batch_size=8, seed=train_seed)).validate()
    splits = experiment.build_splits(spec.data, tmp_path / "data", progress=False)
    run = experiment.RunFolder(tmp_path / "run")
    experiment.train_vae(experiment.build_model(spec, splits), spec, splits, run, torch.device("cpu"), progress=False)
    return run.root


def two_style_run(tmp_path, train_seed: int = 0):
    """:func:`trained_run` of a style model on two styles: chords on every beat ("low"), or every half beat
    ("high")."""
    from conftest import STEP, write_midi

    for style, step in (("low", 1), ("high", 2)):
        for k in range(8):
            notes = [(48 + 12 * step + (b + k) % 7 + i, b * step * STEP, (b + 1) * step * STEP)
                     for b in range(64 // step) for i in (0, 4)]
            write_midi(tmp_path / "src" / style / f"p{k}.mid", notes)
    return trained_run(tmp_path, {"n_styles": 2}, train_seed, styles=("low", "high"))


def test_metre_benchmark_scores_a_model_on_segments_of_its_metre_and_of_every_metre(tmp_path, capsys):
    from bench import bench_metre
    from conftest import STEP, write_midi
    from helpers import musicstats

    for k in range(10):  # 4 bars of 4/4, then 4 of 3/4: chords on every beat
        notes = [(60 + (b + k) % 7 + i, b * 4 * STEP, (b + 1) * 4 * STEP) for b in range(28) for i in (0, 4)]
        write_midi(tmp_path / "src" / "a" / f"p{k}.mid", notes, time_signatures=[(0, 4, 4), (64 * STEP, 3, 4)])
    run = trained_run(tmp_path, {"decoder": "autoregressive"})

    out = tmp_path / "metre.json"
    results = bench_metre.main([str(run), "--samples", "4", "--data-dir", str(tmp_path / "data"),
                                "--out", str(out)])
    row = json.loads(out.read_text())["models"]["run"]
    assert row == results["models"]["run"] and row["trained_any_metre"] is False
    grid, every = row["test"]["grid_metre"], row["test"]["every_metre"]
    assert 0 < grid["segments"] < every["segments"]  # the 3/4 pieces' segments, cut into 4/4, only in the second
    for scores in (grid, every):
        assert set(scores["reconstruction"]) == {"frame_f1", "onset_f1", "note_f1"}
        assert set(scores["sample_distances"]["all"]) == set(musicstats.STATISTICS) and scores["worst"]["all"]
    assert "on the grid metre" in capsys.readouterr().out


def test_judge_summary_takes_each_trios_worst_style_over_its_splits():
    from bench.bench_judge import summary

    rows = [{"styles": ["a", "b", "c"], "judge": "default", "split_seed": s, "seed": seed, "worst": w}
            for s, seed, w in [(0, 0, 0.9), (0, 3, 0.8), (1, 0, 0.7), (2, 0, 1.0)]]
    rows.append({"styles": ["a", "b", "d"], "judge": "default", "seed": 0, "worst": 0.95})  # measured before splits
    first, second = summary(rows)
    assert first["worst_by_split"] == {0: pytest.approx(0.85), 1: 0.7, 2: 1.0}
    assert first["mean_worst"] == pytest.approx((0.85 + 0.7 + 1.0) / 3) and first["least_worst"] == 0.7
    assert second["styles"] == ["a", "b", "d"] and second["least_worst"] == 0.95


def test_floor_benchmark_chooses_one_floor_and_each_styles_own_and_reads_the_worst_statistic_at_each(tmp_path):
    """Every floor is measured of samples from the prior and from each style's region."""
    from bench import bench_floor
    from helpers import evaluation, experiment, musicstats

    run = two_style_run(tmp_path, train_seed=1)

    out = tmp_path / "floors.json"
    results = bench_floor.main([str(run), "--samples", "4", "--data-dir", str(tmp_path / "data"),
                                "--out", str(out)])
    row = json.loads(out.read_text())["models"]["run"]
    assert row == results["models"]["run"] and row["one_floor"] in evaluation.FLOORS
    assert set(row["styles"]) == {"low", "high"}
    for style in row["styles"].values():
        assert style["own_floor"] in evaluation.FLOORS and set(style["test"]) == {str(f) for f in evaluation.FLOORS}
        assert style["worst_one_floor"] == style["test"][str(row["one_floor"])]["worst"]
        assert style["worst_own_floor"] == style["test"][str(style["own_floor"])]["worst"]
        assert style["worst_own_floor"]["statistic"] in musicstats.STATISTICS
        assert set(style["test_region"]) == set(style["test"])  # and from the style's region, at every floor
        assert style["worst_region_one_floor"] == style["test_region"][str(row["one_floor"])]["worst"]
        # the floor is the lowest within the tolerance of the style's best validation distance
        best = min(style["valid_distance"].values())
        assert style["own_floor"] == min(float(f) for f, d in style["valid_distance"].items()
                                         if d <= best + evaluation.FLOOR_TOLERANCE)
    # chosen with the run's own training seed, as its notebook and the evaluation choose
    model, spec, _ = experiment.load_run(run / "best.pt")
    splits = experiment.build_splits(spec.data, tmp_path / "data", progress=False)
    assert spec.train.seed == 1
    assert row["one_floor"] == evaluation.choose_floor(model, splits.valid.grids(), splits.valid.style, seed=1,
                                                       unit=splits.train)[0]
    for k, style in enumerate(row["styles"].values()):
        mine = splits.valid.style == k
        _, distance = evaluation.choose_floor(model, splits.valid.grids()[mine], splits.valid.style[mine], seed=1,
                                              unit=splits.train)
        assert style["valid_distance"] == {str(f): d for f, d in distance.items()}
    with pytest.raises(SystemExit):
        bench_floor.main([str(run), "--samples", "1"])


def test_onset_temperature_benchmark_measures_every_pair_on_both_splits_and_chooses_on_validation(tmp_path,
                                                                                                   monkeypatch):
    """Every pair of temperature and floor is drawn once and compared with each style's validation and test
    segments (on validation in the spread of the style's training segments, which measures even a style of one
    validation segment); the pair chosen is the one closest on validation, whatever the test says."""
    from bench import bench_onset_temperature as bench
    from helpers import musicstats

    run = two_style_run(tmp_path)
    monkeypatch.setattr(bench, "TEMPERATURES", (1.0, 2.0))
    monkeypatch.setattr(bench, "FLOORS", (0.0, 0.05))
    out = tmp_path / "onset_temperature.json"
    results = bench.main([str(run), "--samples", "4", "--data-dir", str(tmp_path / "data"), "--out", str(out)])
    row = json.loads(out.read_text())["models"]["run"]
    assert row == results["models"]["run"]
    assert set(row["pairs"]) == {"t1.0-f0.0", "t1.0-f0.05", "t2.0-f0.0", "t2.0-f0.05"}
    for pair in row["pairs"].values():
        assert set(pair["styles"]) == {"low", "high"}
        for style in pair["styles"].values():
            for split in ("valid", "test"):
                if style[split] is not None:
                    assert style[split]["worst"]["statistic"] in musicstats.STATISTICS
                    assert style[split]["worst"]["distance"] >= style[split]["mean"] >= 0
        assert pair["test_worst"] == max(s["test"]["worst"]["distance"] for s in pair["styles"].values())
        assert pair["valid_mean"] == pytest.approx(np.mean([s["valid"]["mean"] for s in pair["styles"].values()]))
    assert set(row["real"]) == {"valid", "test", "unit"}
    assert set(row["real"]["test"]["low"]) == set(musicstats.STATISTICS)
    # "high" has one validation segment, which does not spread: measured in its training segments' spread
    assert all(v["std"] == 0 for v in row["real"]["valid"]["high"].values())
    assert any(v["std"] > 0 for v in row["real"]["unit"]["high"].values())
    assert all(pair["styles"]["high"]["valid"] is not None for pair in row["pairs"].values())
    chosen = row["chosen_on_valid"]
    assert chosen["valid_mean"] == min(p["valid_mean"] for p in row["pairs"].values())
    assert chosen == {"pair": chosen["pair"], **row["pairs"][chosen["pair"]]}
    with pytest.raises(SystemExit):
        bench.main([str(run), "--samples", "1"])


def test_voices_count_the_notes_of_each_step_and_where_their_number_falls_or_rises(tmp_path, capsys):
    from bench import bench_voices

    grid = np.zeros((1, 4, 2, 4), bool)  # steps: {0,1,2} struck; 2 ends, 3 starts; 1 ends; 0 struck again, 1 starts
    for t, frames, onsets in ((0, [0, 1, 2], [0, 1, 2]), (1, [0, 1, 3], [3]), (2, [0, 3], []), (3, [0, 1, 3], [0, 1])):
        grid[0, t, 0, frames], grid[0, t, 1, onsets] = True, True
    v = bench_voices.voices(grid)
    assert v["share"] == [0.0, 0.25, 0.75, 0.0, 0.0, 0.0] and v["mean"] == 2.75
    assert v["falls"] == v["rises"] == pytest.approx(1 / 3, abs=1e-4)
    assert v["ended_where_falling"] == 1 and v["started_where_falling"] == 0

    run = two_style_run(tmp_path)
    out = tmp_path / "voices.json"
    results = bench_voices.main([str(run), "--samples", "4", "--data-dir", str(tmp_path / "data"), "--out", str(out)])
    row = json.loads(out.read_text())["models"]["run"]
    assert row == results["models"]["run"] and set(row["styles"]) == {"low", "high"}
    for style in row["styles"].values():
        assert style["real"]["share"][1] == 1.0 and style["real"]["falls"] == 0  # two notes at every step
        assert len(style["samples"]["share"]) == bench_voices.MOST
    assert "falls at" in capsys.readouterr().out


def test_models_measured_are_keyed_by_folder_name_or_by_path_where_two_folders_share_one(tmp_path):
    import argparse

    from bench.machine import measure_models

    parser = argparse.ArgumentParser()
    a, b = str(tmp_path / "x" / "run-s0"), str(tmp_path / "y" / "run-s0")
    assert measure_models(parser, [a, str(tmp_path / "z"), "basic"], len) == {
        "run-s0": len(a), "z": len(str(tmp_path / "z")), "shipped basic": 5}
    assert measure_models(parser, [a, b], len) == {a: len(a), b: len(b)}
    for twice in ([a, a], [a, str(tmp_path / "x" / ".." / "x" / "run-s0")], ["basic", "basic"]):
        with pytest.raises(SystemExit):
            measure_models(parser, twice, len)


def test_splits_benchmark_reads_one_set_of_samples_against_each_splits_test_segments(tmp_path):
    from bench import bench_splits
    from helpers import musicstats

    run = two_style_run(tmp_path)
    out = tmp_path / "splits.json"
    results = bench_splits.main([str(run), "--samples", "4", "--data-dir", str(tmp_path / "data"), "--out", str(out),
                                 "--split-seeds", "0", "3"])
    row = json.loads(out.read_text())["models"]["run"]
    assert row == results["models"]["run"] and row["own_split_seed"] == 0
    assert list(row["splits"]) == ["0", "3"]
    first, second = row["splits"]["0"], row["splits"]["3"]
    for group in ("low", "high"):  # each style's samples drawn once: the same generated figures on every split
        a, b = first[group]["statistics"], second[group]["statistics"]
        assert set(a) == set(musicstats.STATISTICS)
        assert all(a[k]["generated_mean"] == b[k]["generated_mean"] for k in a)
        for split in (first, second):  # the furthest statistic, as musicstats.furthest reads it
            worst = split[group]["worst"]
            if worst["statistic"] is not None:
                distance = split[group]["statistics"][worst["statistic"]]["distance"]
                assert worst["distance"] == min(distance, musicstats.UNMEASURED)
    assert any(first[g]["statistics"][k]["real_mean"] != second[g]["statistics"][k]["real_mean"]
               for g in first for k in first[g]["statistics"])  # other test pieces
    assert row["over_splits"]
    for group, summed in row["over_splits"].items():  # each style's worst statistic over the splits
        worst = [split[group]["worst"]["distance"] for split in (first, second)
                 if split[group]["worst"]["distance"] is not None]
        assert summed == {"splits": len(worst), "mean_worst": pytest.approx(np.mean(worst)),
                          "largest_worst": max(worst), "within": sum(d <= 0.5 for d in worst)}
    for bad in (["0", "0"], ["-1"], ["one"]):  # each split once, by a whole number
        with pytest.raises(SystemExit):
            bench_splits.main([str(run), "--split-seeds", *bad])
    with pytest.raises(ValueError, match="each once"):  # and from Python, before the model loads
        bench_splits.measure(str(tmp_path / "nowhere"), 4, split_seeds=[1, 1])
