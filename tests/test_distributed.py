"""Headless training from a spec, in one process and under torchrun (2 CPU processes, gloo)."""
import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import write_two_styles
from helpers import cli, evaluation, experiment, generate, pretrained
from helpers.experiment import DataConfig, Experiment
from helpers.losses import LossConfig
from helpers.models import preset
from helpers.segments import SegmentSampler
from helpers.train import load_checkpoint
from helpers.train import TrainConfig


def spec_file(path, batch_size, epochs=2):
    """A tiny experiment on which two processes with batch B/2 must match one with batch B: no dropout,
    no free bits (a clamp of a batch mean is not an average of clamped half-batch means), no transposition."""
    spec = Experiment(DataConfig(source=str(path.parent / "corpus"), transpose=0),
                      preset("smoke", dropout=0.0), LossConfig(free_bits=0.0, beta_warmup=10),
                      TrainConfig(epochs=epochs, batch_size=batch_size, seed=0))
    return spec.save(path)


@pytest.fixture
def corpus(tmp_path):
    write_two_styles(tmp_path / "corpus", "chords", "line", 12, 48, 60)
    return tmp_path


def launch(tmp_path, spec, name, processes=1, *extra):
    command = [sys.executable, "-m", "helpers.cli", "train", str(spec), "--run-name", name, "--runs-dir",
               str(tmp_path / "runs"), "--data-dir", str(tmp_path / "data"), *extra]
    if processes > 1:
        command[1:3] = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
                        "-m", "helpers.cli"]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")  # the CPU path (gloo) on any machine, a GPU one too
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_sampler_gives_each_process_its_share_of_one_order():
    one = list(SegmentSampler(10, seed=3))
    halves = [list(SegmentSampler(10, seed=3, rank=r, world=2)) for r in range(2)]
    assert sorted(halves[0] + halves[1]) == sorted(one) == list(range(10))
    assert one[0::2] == halves[0] and one[1::2] == halves[1]  # batch k of B = batches k of B/2 on each process
    odd = [list(SegmentSampler(5, seed=3, rank=r, world=2)) for r in range(2)]
    assert len(odd[0]) == len(odd[1]) == 3  # padded, so no process waits for another at the last step
    again = SegmentSampler(10, seed=3)
    again.set_epoch(1)
    assert list(again) != one
    weighted = SegmentSampler(4, weights=torch.tensor([1.0, 0, 0, 1.0], dtype=torch.double), epoch_size=50, seed=0)
    assert len(list(weighted)) == 50 and set(weighted) <= {0, 3}


def test_a_spec_round_trips_and_bad_specs_are_named(tmp_path):
    spec = Experiment(DataConfig(styles="bach,folk"), preset("autoregressive", n_styles=2))
    again = Experiment.load(spec.save(tmp_path / "spec.json"))
    assert again == spec
    (tmp_path / "bad.json").write_text(json.dumps({"train": {"epoch": 3}}))
    with pytest.raises(ValueError, match="bad.json.*epoch"):
        Experiment.load(tmp_path / "bad.json")
    assert cli.main(["train", str(tmp_path / "missing.json"), "--run-name", "x"]) == 2
    runs = tmp_path / "runs"
    assert cli.main(["train", str(tmp_path / "spec.json"), "--run-name", "x", "--runs-dir", str(runs),
                     "--epochs", "0"]) == 2  # refused, not taken for "the spec's epochs"
    assert not runs.exists()  # before anything was written


def test_more_processes_than_gpus_is_named_before_a_device_is_touched(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: pytest.fail("set_device reached"))
    with pytest.raises(SystemExit, match="--nproc_per_node 1"):
        cli._init_process_group()


@pytest.mark.slow
def test_two_processes_train_like_one_with_the_whole_batch_and_resume(corpus):
    tmp_path = corpus
    one = launch(tmp_path, spec_file(tmp_path / "b8.json", 8), "one")
    two = launch(tmp_path, spec_file(tmp_path / "b4.json", 4), "two", 2)
    assert "2 process(es) on cpu" in two and "effective batch 8" in two
    assert two.count("epoch 1/2:") == 1  # rank 0 alone reports (and writes)
    assert two.count("pieces   train") == 1 and "chords" in one  # and prints the data table once
    run = experiment.RunFolder(tmp_path / "runs" / "two")
    for name in ("last.pt", "best.pt", "history.json", "spec.json", "summary.json"):
        assert (run.root / name).is_file(), name
    a, b = load_checkpoint(tmp_path / "runs" / "one" / "last.pt"), load_checkpoint(run.last)
    assert a["step"] == b["step"] > 1
    for key in a["model"]:
        torch.testing.assert_close(b["model"][key], a["model"][key], atol=2e-3, rtol=1e-3, msg=key)
    # The notebooks' loaders open it.
    model, spec, _ = experiment.load_run(run.root)
    assert spec.train.batch_size == 4 and generate.sample(model, 2, seed=0).shape[0] == 2
    _, _, card, judge = pretrained.load(run.last)
    assert card["epoch"] == 2 and "helpers.cli" in pretrained.describe(card) and judge is None
    # it draws as a notebook would: the threshold, floor and onset temperature chosen on validation, on its card
    summary = json.loads(run.summary.read_text())
    assert pretrained.drawing(card) == (summary["threshold"], summary["floor"], summary["onset_temperature"])
    assert summary["onset_temperature"] in evaluation.ONSET_TEMPERATURES and summary["floor"] in evaluation.FLOORS
    assert "(chosen on the validation segments)" in two
    # Run again with a longer plan: it resumes from last.pt instead of starting over.
    more = launch(tmp_path, run.spec, "two", 2, "--epochs", "3", "--extend")
    assert "resuming" in more and "after epoch 2 of 3" in more
    history = json.loads(run.history.read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert all(0 <= row["valid_free_f1"] <= 1 for row in history)  # rank 0's probe, shared with rank 1
