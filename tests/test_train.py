"""The training loop: history, checkpoints that rebuild their model, exact resume, atomic saves."""
import json
from dataclasses import replace

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from helpers import train as train_module
from helpers.experiment import load_run
from helpers.losses import LossConfig, make_step
from helpers.models import PRESETS, GridVAE
from helpers.pianoroll import GridFormat
from helpers.segments import SegmentDataset
from helpers.train import CheckpointError, TrainConfig, load_checkpoint, save_checkpoint, train

P, T = 10, 16
FMT = GridFormat(low=60, high=60 + P - 1, segment_bars=1)  # T = 16: one bar of 4/4
CPU = torch.device("cpu")


def loaders():
    g = torch.Generator().manual_seed(0)
    frames = (torch.rand(40, T, P, generator=g) < 0.2).float()
    x = torch.stack([frames, frames * (torch.rand(40, T, P, generator=g) < 0.5)], dim=2)
    styles = torch.zeros(40, dtype=torch.long)
    data = TensorDataset(x, styles)
    return DataLoader(data, batch_size=8, shuffle=True), DataLoader(TensorDataset(x[:16], styles[:16]), batch_size=8)


def new_model():
    torch.manual_seed(1)
    return GridVAE(replace(PRESETS["smoke"], format=FMT))


def run(run_dir, epochs, **kwargs):
    model = new_model()
    history = train(model, make_step(LossConfig(beta_warmup=5)), *loaders(), TrainConfig(epochs=epochs, warmup_steps=3),
                    run_dir, device=CPU, progress=False, **kwargs)
    return model, history


def test_history_and_files(tmp_path):
    seen = []
    model, history = run(tmp_path, 3, callback=lambda h: seen.append(len(h)))
    assert seen == [1, 2, 3] and [row["epoch"] for row in history] == [1, 2, 3]
    for key in ("train_loss", "train_recon", "train_kl", "train_elbo", "valid_elbo", "lr", "seconds"):
        assert isinstance(history[-1][key], float), key
    assert json.loads((tmp_path / "history.json").read_text()) == history
    assert (tmp_path / "history.csv").read_text().splitlines()[0].startswith("epoch,step,lr,step_seconds,train_")
    assert (tmp_path / "last.pt").exists() and (tmp_path / "best.pt").exists()


def test_checkpoint_rebuilds_its_model(tmp_path):
    model, _ = run(tmp_path, 2)
    again, spec, payload = load_run(tmp_path / "last.pt")
    assert spec.model == model.config and spec.model.format == FMT
    assert payload["epoch"] == 2 and payload["train_config"]["epochs"] == 2
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name
    x = loaders()[1].dataset.tensors[0][:3]
    model.eval()
    torch.testing.assert_close(model(x, sample=False)["logits"], again(x, sample=False)["logits"])


def test_resume_equals_an_uninterrupted_run(tmp_path):
    straight, h1 = run(tmp_path / "straight", 4)
    def kill_after_two(history):
        if len(history) == 2:
            raise KeyboardInterrupt("runtime disconnected")

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "interrupted", 4, callback=kill_after_two)
    resumed, h2 = run(tmp_path / "interrupted", 4)  # same call again: resumes from last.pt
    assert [r["epoch"] for r in h2] == [1, 2, 3, 4]
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    assert [r["train_loss"] for r in h1] == [r["train_loss"] for r in h2]
    finished, h3 = run(tmp_path / "straight", 4)  # nothing left to do
    assert len(h3) == 4


def test_resume_refuses_another_model(tmp_path):
    run(tmp_path, 1)
    other = GridVAE(replace(PRESETS["smoke"], format=FMT, latent=4))
    with pytest.raises(CheckpointError, match="another model configuration"):
        train(other, make_step(LossConfig()), *loaders(), TrainConfig(epochs=2), tmp_path, device=CPU,
              progress=False)


def test_interrupted_save_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    run(tmp_path, 1)
    good = load_checkpoint(tmp_path / "last.pt")

    def dying_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt("killed during the save")

    monkeypatch.setattr(train_module.torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "last.pt", {"model": {}})
    monkeypatch.undo()
    kept = load_checkpoint(tmp_path / "last.pt")
    assert kept["epoch"] == good["epoch"] == 1
    assert not list(tmp_path.glob(".*.tmp"))
    mapped = load_checkpoint(tmp_path / "last.pt", mmap=True)  # read lazily, the same checkpoint
    assert mapped["epoch"] == 1 and all(torch.equal(mapped["model"][k], v) for k, v in good["model"].items())


def test_foreign_files_get_a_clear_error(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    for mmap in (False, True):
        with pytest.raises(CheckpointError, match="junk.pt: not a readable checkpoint"):
            load_checkpoint(tmp_path / "junk.pt", mmap=mmap)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="other.pt: not a checkpoint of this project"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_run(tmp_path / "missing.pt")


def test_bad_train_settings_are_refused_before_training(tmp_path):
    for field, value in [("epochs", 0), ("lr", -1.0), ("lr", float("nan")), ("grad_clip", -1),
                         ("warmup_steps", 1.5), ("batch_size", 0), ("monitor", "")]:
        with pytest.raises(ValueError, match=field):
            train(new_model(), make_step(LossConfig()), *loaders(), TrainConfig(**{field: value}), tmp_path,
                  device=CPU, progress=False)
    assert not (tmp_path / "last.pt").exists()


def test_a_misspelt_monitor_is_named_after_the_first_epoch(tmp_path):
    with pytest.raises(ValueError, match="monitor is 'elbow'.*'elbo'"):
        train(new_model(), make_step(LossConfig()), *loaders(), TrainConfig(epochs=1, monitor="elbow"), tmp_path,
              device=CPU, progress=False)


@pytest.mark.parametrize("capability, precision, expected", [
    ((7, 5), "auto", torch.float16),    # T4: no native bfloat16, float16 with a gradient scaler
    ((7, 0), "auto", torch.float16),    # V100
    ((8, 0), "auto", torch.bfloat16),   # A100
    ((8, 9), "auto", torch.bfloat16),   # L4
    ((9, 0), "auto", torch.bfloat16),   # H100
    ((7, 5), "fp16", torch.float16),
    ((8, 0), "fp16", torch.float16),
    ((9, 0), "bf16", torch.bfloat16),
    ((7, 5), "fp32", None),
    ((9, 0), "fp32", None),
])
def test_precision_per_compute_capability(monkeypatch, capability, precision, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # what a T4 answers: emulated
    assert train_module.autocast_dtype(precision, "cuda") is expected


def test_precision_refuses_emulated_bf16_and_unknown_names(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    with pytest.raises(ValueError, match="bf16.*compute capability 8.0.*7.5"):
        train_module.autocast_dtype("bf16", "cuda")
    with pytest.raises(ValueError, match="precision"):
        train_module.autocast_dtype("half", "cpu")
    for precision in train_module.PRECISIONS:  # a CPU always trains in float32
        assert train_module.autocast_dtype(precision, "cpu") is None
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp8").validate()


def test_a_resumed_run_keeps_its_plan_unless_extended(tmp_path):
    def kill_after_two(history):
        if len(history) == 2:
            raise KeyboardInterrupt("runtime disconnected")

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, 4, callback=kill_after_two)
    assert train_module.planned_epochs(tmp_path / "last.pt") == 4
    with pytest.raises(ValueError, match="planned for 4 epochs.*stopped after epoch 2.*extend=True"):
        run(tmp_path, 6)  # another number of epochs, not asked for as an extension
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 2  # nothing trained

    model = new_model()
    config = TrainConfig(epochs=6, warmup_steps=3, extend=True)
    history = train(model, make_step(LossConfig(beta_warmup=5)), *loaders(), config, tmp_path, device=CPU,
                    progress=False)
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5, 6]
    # The schedule was not restarted: epochs 5 and 6 run on at the final learning rate of the plan of 4.
    final = config.lr * config.min_lr_ratio
    assert history[3]["lr"] == pytest.approx(final) and history[5]["lr"] == pytest.approx(final)
    assert all(a["lr"] >= b["lr"] for a, b in zip(history[2:], history[3:]))
    assert train_module.planned_epochs(tmp_path / "last.pt") == 6
    with pytest.raises(ValueError, match="cannot shorten"):
        train(new_model(), make_step(LossConfig()), *loaders(), TrainConfig(epochs=3, extend=True), tmp_path,
              device=CPU, progress=False)


def test_best_checkpoint_follows_the_probe_skips_its_gaps_and_takes_the_later_of_ties(tmp_path):
    figures = {2: 0.3, 3: 0.3, 4: 0.1}  # epoch 1 is not probed; epochs 2 and 3 tie at the best figure

    def probe(model, epoch, epochs):
        return {"free_f1": figures[epoch]} if epoch in figures else {}

    model = new_model()
    history = train(model, make_step(LossConfig(beta_warmup=5)), *loaders(),
                    TrainConfig(epochs=4, warmup_steps=3, monitor="free_f1"), tmp_path, device=CPU, progress=False,
                    probe=probe)
    assert [row.get("valid_free_f1") for row in history] == [None, 0.3, 0.3, 0.1]
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == 3


@pytest.mark.parametrize("tolerance, kept", [(0.0, 2), (0.01, 4)])
def test_best_checkpoint_is_the_latest_epoch_within_the_tolerance_of_the_best(tmp_path, tolerance, kept):
    """A probe that peaks early and then stays within its noise: with a tolerance, the more trained epoch is kept."""
    figures = {1: 0.30, 2: 0.36, 3: 0.355, 4: 0.352, 5: 0.34}

    def probe(model, epoch, epochs):
        return {"free_f1": figures[epoch]}

    train(new_model(), make_step(LossConfig(beta_warmup=5)), *loaders(),
          TrainConfig(epochs=5, warmup_steps=3, monitor="free_f1", monitor_tolerance=tolerance), tmp_path,
          device=CPU, progress=False, probe=probe)
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == kept


def test_a_negative_monitor_tolerance_is_refused():
    with pytest.raises(ValueError, match="monitor_tolerance"):
        TrainConfig(monitor_tolerance=-0.1).validate()


def test_the_probe_scores_a_cautious_decoder_at_its_best_threshold():
    from types import SimpleNamespace

    import numpy as np

    from helpers import experiment

    model = GridVAE(replace(PRESETS["smoke"], format=FMT, decoder="seed")).eval()
    with torch.no_grad():  # every cell at probability 0.25: silent at 0.5, every note at 0.2
        for p in model.parameters():
            p.zero_()
        model.to_logits.bias.fill_(float(np.log(0.25 / 0.75)))
    grids = np.zeros((4, T, 2, P), bool)
    grids[:, :, 0] = True
    grids[:, 0, 1] = True
    class Valid:  # the part of a SegmentDataset the probe reads
        style = np.zeros(4, int)

        def __len__(self):
            return len(grids)

        def grids(self, picks):
            return grids[picks]

    probe = experiment.free_running_probe(SimpleNamespace(valid=Valid(), train=Valid()), n=4)
    assert probe(model, 1, 1)["free_f1"] == pytest.approx(1.0)


def test_the_probe_measures_samples_against_the_held_out_statistics():
    """Samples that sound what the held-out segments sound come out closer than silent ones, and the figure
    is the same every time for the same weights (the same seeded codes)."""
    from types import SimpleNamespace

    import numpy as np

    from helpers import experiment

    grids = np.zeros((6, T, 2, P), bool)
    for i in range(6):  # all but i of the pitches held through the segment
        grids[i, :, :, : P - i] = True

    class Valid:
        style = np.zeros(6, int)

        def __len__(self):
            return len(grids)

        def grids(self, picks):
            return grids[picks]

    def model_at(logit):
        model = GridVAE(replace(PRESETS["smoke"], format=FMT, decoder="seed", notes="frames")).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
            model.to_logits.bias.fill_(logit)
        return model

    probe = experiment.free_running_probe(SimpleNamespace(valid=Valid(), train=Valid()), n=4, samples=8)
    loud, sparse, silent = (probe(model_at(logit), 1, 1) for logit in (8.0, -1.0, -8.0))
    assert 0 <= loud["sample_distance"] < sparse["sample_distance"] < silent["sample_distance"]
    assert silent["sample_distance"] <= experiment.PROBE_UNMEASURED
    assert probe(model_at(8.0), 1, 1) == loud

    # The unit is the training segments' spread: the same distances, measured in a wider spread, are shorter.
    from helpers import evaluation, musicstats

    wide = np.concatenate([grids, np.zeros((6, T, 2, P), bool)])
    wide[6:, :, :, :2] = True  # and six pieces of two pitches: what spreads spreads wider

    class Train(Valid):
        style = np.zeros(12, int)

        def __len__(self):
            return len(wide)

        def grids(self, picks):
            return wide[picks]

    model = model_at(-1.0)
    widely = experiment.free_running_probe(SimpleNamespace(valid=Valid(), train=Train()), n=4, samples=8)(model, 1, 1)
    real = {None: musicstats.statistics(grids, FMT)}
    assert widely["sample_distance"] == pytest.approx(
        evaluation.sample_distance(model, real, 8, unit={None: musicstats.statistics(wide, FMT)}))
    assert widely["sample_distance"] < sparse["sample_distance"]
    assert evaluation.sample_distance(model, real, 8) == pytest.approx(sparse["sample_distance"])
    with pytest.raises(ValueError, match="TrainConfig.monitor must be one of"):
        experiment.vae_train_config(monitor="elbo_or_samples")
    kept = experiment.vae_train_config(monitor="sample_distance")
    assert (kept.monitor, kept.monitor_tolerance) == ("sample_distance", experiment.PROBE_TOLERANCES["sample_distance"])


def test_the_probe_of_a_model_without_styles_compares_with_all_styles_in_their_proportions(monkeypatch):
    """As choose_floor and the evaluation: up to PROBE_REAL of all validation segments, not PROBE_REAL per style."""
    from types import SimpleNamespace

    import numpy as np

    from helpers import experiment

    grids = np.zeros((12, T, 2, P), bool)
    grids[:, :, :, :4] = True
    read = []

    class Valid:
        style = np.array([0] * 9 + [1] * 3)

        def __len__(self):
            return len(grids)

        def grids(self, picks):
            read.append(np.asarray(picks))
            return grids[picks]

    class Train(Valid):
        by_style = SegmentDataset.by_style  # the unit's draws per style, as a dataset's

        def grids(self, picks):
            return grids[picks]  # not counted: only the validation segments' reads are

    monkeypatch.setattr(experiment, "PROBE_REAL", 6)
    probe = experiment.free_running_probe(SimpleNamespace(valid=Valid(), train=Train()), n=2, samples=4)
    read.clear()
    probe(GridVAE(replace(PRESETS["smoke"], format=FMT)).eval(), 1, 1)
    assert [len(r) for r in read] == [6]  # 6 of all 12, as one group
    read.clear()
    probe(GridVAE(replace(PRESETS["smoke"], format=FMT, n_styles=2)).eval(), 1, 1)
    assert sorted(len(r) for r in read) == [3, 6]  # per style: 6 of the 9, all 3 of the other


def test_a_loss_that_is_not_finite_stops_training_before_its_epoch_is_saved(tmp_path):
    model = new_model()
    step_fn = make_step(LossConfig(beta_warmup=5))

    def blows_up(model, batch, step):  # the loss of step 7 (the second epoch's third) is NaN
        parts = step_fn(model, batch, step)
        return dict(parts, loss=parts["loss"] * float("nan")) if step == 7 else parts

    with pytest.raises(FloatingPointError, match="loss is nan at step 7"):
        train(model, blows_up, *loaders(), TrainConfig(epochs=3, warmup_steps=3), tmp_path, device=CPU,
              progress=False)
    saved = load_checkpoint(tmp_path / "last.pt")
    assert saved["epoch"] == 1 and len(saved["history"]) == 1  # the first epoch, untouched by the NaN
    assert all(torch.isfinite(w).all() for w in saved["model"].values())
    again = train(new_model(), step_fn, *loaders(), TrainConfig(epochs=3, warmup_steps=3), tmp_path, device=CPU,
                  progress=False)  # resumes from that epoch
    assert [r["epoch"] for r in again] == [1, 2, 3]
