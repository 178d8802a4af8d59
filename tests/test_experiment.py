"""The experiment spec: typed settings checked up front, a checkpoint that rebuilds its model and its data,
the run folder's layout, and checkpoints of the earlier version."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import write_two_styles
from helpers import experiment
from helpers.experiment import DataConfig, Experiment, RunFolder
from helpers.losses import LossConfig
from helpers.models import PRESETS, VAEConfig
from helpers.pianoroll import GridFormat
from helpers.train import CheckpointError, TrainConfig, save_checkpoint

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """Two styles of eight 4-bar pieces in 4/4 (low chords, a high line)."""
    return write_two_styles(tmp_path_factory.mktemp("midi"), "low", "high", 8, 48, 72, seed=1)


def spec_of(root, **data):
    settings = dict(source=str(root), styles=("high", "low"), segment_bars=1, transpose=0, max_per_style=None)
    return Experiment(DataConfig(**{**settings, **data}), replace(PRESETS["smoke"], decoder="autoregressive"),
                      LossConfig(beta_warmup=5), TrainConfig(epochs=1, warmup_steps=1, batch_size=8))


def test_every_bad_setting_is_refused_before_anything_is_built(tmp_path):
    good = spec_of(tmp_path)
    for part, field, value in [("data", "segment_bars", 0), ("data", "transpose", -2), ("data", "window", (70, 60)),
                               ("data", "time_signature", (4, 3)), ("data", "max_per_style", -1),
                               ("data", "steps_per_quarter", 0), ("model", "latent", 0),
                               ("loss", "beta", float("nan")), ("train", "lr", 2.0), ("train", "batch_size", 0),
                               ("train", "epochs", 0), ("data", "any_metre", "yes")]:
        bad = replace(good, **{part: replace(getattr(good, part), **{field: value})})
        with pytest.raises(ValueError, match=field if field != "window" else "low <= high"):
            bad.validate()
    with pytest.raises(ValueError, match="at least two styles"):
        replace(good, data=replace(good.data, styles=("high",)), model=replace(good.model, n_styles=2)).validate()
    assert not list(tmp_path.iterdir())  # nothing was built


def test_styles_from_a_form_field_or_papermill_are_split_on_commas():
    assert DataConfig(styles="bach, folk").styles == ("bach", "folk")
    assert DataConfig(styles="").styles is None and DataConfig(styles=" , ").styles is None  # a form left empty: all
    assert DataConfig(styles=["bach"]).styles == ("bach",)


def test_a_time_signature_from_a_form_field_and_a_bad_one_named():
    assert DataConfig(time_signature="3/4").time_signature == (3, 4)
    assert DataConfig(time_signature=" 6 / 8 ").time_signature == (6, 8) and DataConfig().time_signature == (4, 4)
    for bad in ("3-4", "waltz", 3):
        with pytest.raises(ValueError, match="DataConfig.time_signature"):
            DataConfig(time_signature=bad)


def test_pieces_in_another_metre_are_left_out_and_the_error_says_what_to_set(tmp_path):
    from conftest import STEP, write_midi

    for k in range(10):  # waltzes: 8 bars of 3/4, a chord on each beat
        notes = [(60 + (b + k) % 5 + i, b * 4 * STEP, (b + 1) * 4 * STEP) for b in range(24) for i in (0, 4)]
        write_midi(tmp_path / "src" / "waltz" / f"w{k}.mid", notes, time_signatures=[(0, 3, 4)])
    data = DataConfig(source=str(tmp_path / "src"), segment_bars=2, transpose=0)
    with pytest.raises(ValueError, match="another metre: set DataConfig.time_signature .*TIME_SIGNATURE") as err:
        experiment.build_splits(data, tmp_path / "data", progress=False)
    assert "(8 pieces)" in str(err.value) and "max_per_style" not in str(err.value)  # a folder: every file read
    waltz = experiment.build_splits(replace(data, time_signature="3/4"), tmp_path / "data", progress=False)
    assert waltz.format.time_signature == (3, 4) and waltz.format.segment_steps == 24
    assert len(waltz.train) == 8 * 7  # from each of bars 0..6 of 8 pieces
    assert "in 3/4" in waltz.report() and "other metre" in waltz.report()
    cut = experiment.build_splits(replace(data, any_metre=True), tmp_path / "data", progress=False)
    assert cut.format.segment_steps == 32 and len(cut.train) == 8 * 6  # from bars 0..5: 32 steps fit 5 more
    assert "other metre" not in cut.report()


def test_epochs_from_the_device_and_the_smoke_configuration():
    spec = Experiment(train=TrainConfig(epochs=None))
    assert spec.validate().for_device("cpu").train.epochs == experiment.CPU_EPOCHS
    assert spec.for_device("cuda").train.epochs == experiment.GPU_EPOCHS
    assert Experiment(train=TrainConfig(epochs=7)).for_device("cuda").train.epochs == 7
    with pytest.raises(ValueError, match="precision"):
        Experiment(train=TrainConfig(epochs=None, precision="bfloat16")).validate()
    smoke = spec.smoke()
    assert smoke.train.epochs == 2 and smoke.data.max_per_style == 8 and smoke.model.latent == 8
    assert Experiment(data=DataConfig(balance_styles=True, epoch_segments=4000)).smoke().data.epoch_segments == 64


def test_splits_share_one_fitted_format(source, tmp_path):
    splits = experiment.build_splits(spec_of(source).data, tmp_path, progress=False)
    fmt = splits.format
    assert splits.config.window == fmt.window and splits.config.styles == ("high", "low")
    low, high = splits.pieces.pitch_range()
    assert fmt.window == (low, high) and fmt.segment_steps == 16
    for split in (splits.train, splits.valid, splits.test):
        assert split.format == fmt and len(split)
    assert "segments:" in splits.report() and "1 bars of 16 steps" in splits.report()
    narrow = experiment.build_splits(spec_of(source, window=(40, 90)).data, tmp_path, progress=False)
    assert narrow.format.window == (40, 90)


def test_a_style_with_no_readable_piece_is_named(source, tmp_path):
    with pytest.raises(Exception, match="nowhere"):
        experiment.build_splits(spec_of(source, styles=("high", "nowhere")).data, tmp_path, progress=False)
    with pytest.raises(ValueError, match="train split .* no segment of 64 bars"):
        experiment.build_splits(spec_of(source, segment_bars=64).data, tmp_path, progress=False)


def test_a_checkpoint_alone_rebuilds_its_model_and_its_data(source, tmp_path):
    spec = spec_of(source).validate()
    splits = experiment.build_splits(spec.data, tmp_path / "data", progress=False)
    run = RunFolder(tmp_path / "run")
    model = experiment.build_model(spec, splits)
    experiment.train_vae(model, spec, splits, run, CPU, progress=False)
    assert run.checkpoint == run.best and run.last.is_file() and run.history.is_file()

    again, saved, payload = experiment.load_run(run.root)
    assert saved.model == model.config and saved.model.format == splits.format
    assert saved.data == splits.config and saved.loss == spec.loss and saved.train == spec.train
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name
    rebuilt = experiment.build_splits(saved.data, tmp_path / "data", progress=False)
    assert rebuilt.format == splits.format
    np.testing.assert_array_equal(rebuilt.test.grids(), splits.test.grids())


def test_style_models_get_one_style_per_style_of_the_data(source, tmp_path):
    spec = spec_of(source)
    splits = experiment.build_splits(spec.data, tmp_path, progress=False)
    styled = experiment.build_model(replace(spec, model=replace(spec.model, n_styles=5)), splits)
    assert styled.config.n_styles == 2 and styled.config.format == splits.format
    assert experiment.build_model(spec, splits).config.n_styles == 0


def version_1_checkpoint(path, model_config, **extra):
    """What a checkpoint of the earlier version held: loose grid fields, untyped data settings."""
    from helpers.models import GridVAE

    config = VAEConfig.from_dict(model_config)
    state = GridVAE(config).state_dict()
    save_checkpoint(path, {"model": state, "model_config": model_config, "epoch": 1, "history": [],
                           "train_config": {"epochs": 40, "lr": 1e-3, "weight_decay": 1e-4, "grad_clip": 1.0,
                                            "warmup_steps": 100, "min_lr_ratio": 0.1, "amp": True, "seed": 0,
                                            "monitor": "elbo"},
                           "extra": extra})
    payload = torch.load(path, weights_only=True)
    payload["version"] = 1
    torch.save(payload, path)
    return state


V1_CONFIG = {"n_pitches": 20, "low": 50, "seq_len": 32, "steps_per_quarter": 4, "enc_hidden": 32, "enc_layers": 2,
             "bidirectional": True, "latent": 8, "dec_hidden": 32, "dec_input": 16, "decoder": "autoregressive",
             "dropout": 0.1, "n_styles": 0, "style_dim": 4, "classifier_hidden": 16}


def test_a_version_1_checkpoint_loads_with_its_settings_read_into_the_spec(tmp_path):
    state = version_1_checkpoint(tmp_path / "vae" / "best.pt", V1_CONFIG, loss_config={"beta": 0.2},
                                 styles=["bach"], data={"source": "music21", "max_per_style": 500, "transpose": 3})
    model, spec, payload = experiment.load_run(tmp_path)  # a style run of version 1 kept it in vae/
    assert payload["version"] == 1
    assert spec.model.format == GridFormat(4, 50, 69, (4, 4), 2) and model.config.seq_len == 32
    assert spec.data == DataConfig(source="music21", styles=("bach",), max_per_style=500, transpose=3,
                                   segment_bars=2, window=(50, 69), any_metre=True)  # its segments, every metre
    assert spec.loss.beta == 0.2 and spec.train.batch_size == 64
    for name, value in model.state_dict().items():
        assert torch.equal(value, state[name]), name


def test_a_checkpoint_saved_before_the_metre_setting_rebuilds_its_segments_of_every_metre():
    old = {k: v for k, v in DataConfig().to_dict().items() if k != "any_metre"}
    payload = {"model_config": VAEConfig().to_dict(), "train_config": {}, "extra": {"data": old, "loss": {}}}
    assert experiment.spec_from_checkpoint(payload).data.any_metre is True
    payload["extra"]["data"] = DataConfig().to_dict()  # saved since: its own setting
    assert experiment.spec_from_checkpoint(payload).data.any_metre is False


def test_a_version_1_checkpoint_cannot_resume_and_says_so(tmp_path):
    version_1_checkpoint(tmp_path / "last.pt", V1_CONFIG)
    model, spec, _ = experiment.load_run(tmp_path / "last.pt")
    batches = [(torch.zeros(2, 32, 2, 20), torch.zeros(2, dtype=torch.long))]
    from helpers.losses import make_step
    from helpers.train import train

    with pytest.raises(CheckpointError, match="earlier version.*new run folder"):
        train(model, make_step(spec.loss), batches, None, spec.train, tmp_path, device=CPU, progress=False)


def test_a_model_that_is_no_whole_number_of_bars_is_refused_clearly(tmp_path):
    version_1_checkpoint(tmp_path / "best.pt", dict(V1_CONFIG, seq_len=32))
    odd = dict(V1_CONFIG, seq_len=24)
    payload = torch.load(tmp_path / "best.pt", weights_only=True)
    payload["model_config"] = odd
    torch.save(payload, tmp_path / "best.pt")
    with pytest.raises(CheckpointError, match="best.pt.*whole number of 4/4 bars"):
        experiment.load_run(tmp_path)


def test_run_folder_layout(tmp_path):
    run = RunFolder(tmp_path)
    with pytest.raises(CheckpointError, match="no best.pt"):
        run.checkpoint
    assert not run.finished
    run.write_summary({"epochs": 2, "f1": np.float32(0.5)})
    assert run.finished and run.summary.name == "summary.json"
    assert run.outputs("samples") == tmp_path / "samples" and run.figure("loss") == tmp_path / "loss.png"
    assert run.judge == tmp_path / "judge"


def test_a_resumed_run_finishes_its_plan_whatever_the_device(tmp_path):
    """EPOCHS=None on a CPU after a GPU start: the run's 150 epochs, not the CPU's 40; another number is refused."""
    run = experiment.RunFolder(tmp_path)
    save_checkpoint(run.last, {"train_config": {"epochs": experiment.GPU_EPOCHS}, "epoch": 37})
    spec = Experiment(train=TrainConfig(epochs=None))
    assert spec.for_device("cpu", run).train.epochs == experiment.GPU_EPOCHS
    with pytest.raises(ValueError, match="planned for 150 epochs.*EXTEND"):
        Experiment(train=TrainConfig(epochs=40)).for_device("cpu", run)
    extended = Experiment(train=TrainConfig(epochs=200, extend=True)).for_device("cpu", run)
    assert extended.train.epochs == 200
    fresh = experiment.RunFolder(tmp_path / "new")
    assert spec.for_device("cpu", fresh).train.epochs == experiment.CPU_EPOCHS


def test_an_unknown_monitor_is_refused_before_anything_is_built():
    with pytest.raises(ValueError, match="monitor is 'elbow'.*'elbo'"):
        Experiment(train=TrainConfig(monitor="elbow")).validate()
    with pytest.raises(ValueError, match="monitor is 'style'"):
        Experiment(train=TrainConfig(monitor="style")).validate()  # a figure of style models only
    Experiment(model=VAEConfig(n_styles=2), data=DataConfig(styles=("a", "b")),
               train=TrainConfig(monitor="style")).validate()
