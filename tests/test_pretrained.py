"""The shipped models: exported from a finished run, small, read with weights_only, and they make music."""
import json

import numpy as np
import pytest
import torch

from helpers import experiment, generate, metrics, pretrained
from helpers.train import CheckpointError, load_checkpoint
from test_train import FMT, loaders, run


def finished_run(run_dir):
    model, history = run(run_dir, 2)
    experiment.RunFolder(run_dir).write_summary({"device": "cpu", "threshold": 0.3, "valid_elbo": 1.0,
                                                 "test_scores": {"frame_f1": 0.5, "onset_f1": 0.25}})
    return model


def test_export_keeps_weights_and_settings_only_and_loads_back(tmp_path):
    model = finished_run(tmp_path / "run")
    out = pretrained.export(tmp_path / "run", "basic", folder=tmp_path / "shipped")
    payload = load_checkpoint(out)
    assert not {"optimizer", "scheduler", "scaler", "rng", "history"} & set(payload)
    assert all(v.dtype == torch.float16 for v in payload["model"].values() if v.is_floating_point())
    again, spec, card, judge = pretrained.load("basic", folder=tmp_path / "shipped")
    assert judge is None and spec.model == model.config and spec.model.format == FMT
    assert card["epoch"] == 2 and card["scores"]["threshold"] == 0.3 and card["steps"] == 10
    x = loaders()[1].dataset.tensors[0][:4]
    model.eval()
    torch.testing.assert_close(again(x, sample=False)["logits"], model(x, sample=False)["logits"], atol=0.02,
                               rtol=0.01)
    assert generate.sample(again, 2, seed=0).shape == (2, FMT.segment_steps, 2, FMT.n_pitches)
    text = pretrained.describe(card)
    assert "trained by the notebook" in text and "frame_f1 0.500" in text


def test_an_unfinished_run_or_an_unknown_name_is_refused(tmp_path):
    run(tmp_path / "run", 1)
    with pytest.raises(CheckpointError, match="no summary.json"):
        pretrained.export(tmp_path / "run", "basic", folder=tmp_path)
    with pytest.raises(ValueError, match="'jazz' is none of them"):
        pretrained.load("jazz")
    with pytest.raises(CheckpointError, match="missing.*PRETRAINED = False"):
        pretrained.load("basic", folder=tmp_path / "empty")


@pytest.mark.parametrize("name", pretrained.NAMES)
def test_the_shipped_models_load_and_generate(name):
    file = pretrained.path(name)
    assert file.is_file(), f"{file} is not shipped: python -m helpers.pretrained train"
    model, spec, card, judge = pretrained.load(name)
    assert file.stat().st_size < 5e6 and card["name"] == name and card["epoch"] >= 1
    fmt = spec.model.format
    if name == "style":
        assert judge is not None and len(spec.data.styles) == spec.model.n_styles >= 2
        grids = generate.sample(model, 3, style=1, seed=0)
        assert metrics.predict(judge, grids).shape == (3, spec.model.n_styles)
    else:
        assert judge is None and "test_scores" in card["scores"]
        grids = generate.sample(model, 3, seed=0)
    assert grids.shape == (3, fmt.segment_steps, 2, fmt.n_pitches) and grids.any()
    threshold, floor, onset_temperature = pretrained.drawing(card)  # what its draws and decodes are made with
    assert 0 < threshold < 1 and 0 <= floor < 1 and onset_temperature > 0
    # a floor or a temperature the user gives wins over the card's
    assert pretrained.drawing(card, 0.0) == (threshold, 0.0, onset_temperature)
    assert pretrained.drawing(card, None, 1.3) == (threshold, floor, 1.3)
    assert pretrained.drawing({"scores": {}}) == (0.5, 0.0, 1.0)  # a card that says nothing: the model's own draws
    assert json.dumps(card)  # plain data, shown by the notebooks


def test_shipped_files_stay_small():
    assert sum(pretrained.path(name).stat().st_size for name in pretrained.NAMES) <= 10e6


def test_differences_name_the_settings_a_loaded_model_overrides():
    from dataclasses import replace

    _, used, _, _ = pretrained.load("style")
    assert pretrained.differences(used, used) == []
    asked = replace(used, data=replace(used.data, styles=("bach", "folk"), segment_bars=8, window=None),
                    model=replace(used.model, latent=64, n_styles=2), train=replace(used.train, epochs=3))
    lines = pretrained.differences(asked, used)
    assert [line.split(":")[0] for line in lines] == ["data.styles", "data.segment_bars", "model.latent"]
    assert "('bach', 'folk') here, ('bach', 'folk', 'palestrina') in the model" in lines[0]
    weighted = replace(used, loss=replace(used.loss, plan_weight=0.3))  # a weight with no plan to weigh: silent
    assert pretrained.differences(weighted, used) == []
    planned = replace(weighted, model=replace(used.model, bar_plan=True))
    assert [line.split(":")[0] for line in pretrained.differences(planned, used)] == ["model.bar_plan",
                                                                                      "loss.plan_weight"]
