"""The notebooks' models on a CUDA GPU, in every precision a Colab runtime may train in.

Skipped where there is no GPU (the rest of the suite runs everywhere on the
CPU). On a GPU machine, ``python -m pytest tests/test_cuda.py`` checks what a
Colab user's GPU runtime does and no CPU test reaches: training each
notebook's default model under autocast (float32, float16 with the gradient
scaler as on a T4, bfloat16 where the card has it), a checkpoint written on
the GPU that loads and resumes on the CPU, and generation on the GPU from
the shipped models.
"""
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from helpers import generate, pretrained
from helpers.experiment import load_run
from helpers.losses import LossConfig, make_step
from helpers.models import GridVAE
from helpers.train import TrainConfig, autocast_dtype, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CUDA = torch.device("cuda")
NAMES = ("basic", "style")  # the shipped models: each notebook's defaults, trained
PRECISIONS = ("fp32", "fp16", "bf16")


def _precision_or_skip(precision: str) -> torch.dtype | None:
    try:
        return autocast_dtype(precision, CUDA)
    except ValueError as err:  # bf16 on a card without it
        pytest.skip(str(err))


def _loaders(config, n: int = 48, batch: int = 16):
    """Random grids of the model's format (onsets inside the notes), with style labels."""
    fmt = config.format
    g = torch.Generator().manual_seed(0)
    frames = (torch.rand(n, fmt.segment_steps, fmt.n_pitches, generator=g) < 0.08).float()
    x = torch.stack([frames, frames * (torch.rand(frames.shape, generator=g) < 0.5)], dim=2)
    styles = torch.randint(0, max(config.n_styles, 1), (n,), generator=g)
    return (DataLoader(TensorDataset(x, styles), batch_size=batch, shuffle=True),
            DataLoader(TensorDataset(x[:batch], styles[:batch]), batch_size=batch))


def _default_config(name: str):
    _, spec, _, _ = pretrained.load(name)
    return spec.model, spec.loss


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name", NAMES)
def test_the_default_model_trains_on_the_gpu_and_resumes_on_the_cpu(tmp_path, name, precision):
    _precision_or_skip(precision)
    config, loss = _default_config(name)
    torch.manual_seed(0)
    model = GridVAE(config)
    step = make_step(replace(loss, beta_warmup=5))
    history = train(model, step, *_loaders(config), TrainConfig(epochs=2, warmup_steps=2, precision=precision),
                    tmp_path, device=CUDA, progress=False)
    assert len(history) == 2
    for row in history:
        for key in ("train_loss", "train_recon", "train_kl", "valid_elbo"):
            assert np.isfinite(row[key]), (key, row)
    assert next(model.parameters()).is_cuda

    again, spec, payload = load_run(tmp_path / "last.pt", map_location="cpu")  # a GPU run opened on a CPU
    assert payload["epoch"] == 2 and not next(again.parameters()).is_cuda
    for (key, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a.cpu(), b), key
    resumed = train(again, step, *_loaders(config), TrainConfig(epochs=3, warmup_steps=2, precision=precision,
                                                                extend=True),
                    tmp_path, device=torch.device("cpu"), progress=False)
    assert [r["epoch"] for r in resumed] == [1, 2, 3] and np.isfinite(resumed[-1]["train_loss"])


@pytest.mark.parametrize("name", NAMES)
def test_the_shipped_model_generates_on_the_gpu_as_on_the_cpu(name):
    model, spec, card, _ = pretrained.load(name, CUDA)
    assert next(model.parameters()).is_cuda
    fmt = spec.model.format
    style = 0 if spec.model.n_styles else None
    grids = generate.sample(model, 4, style=style, seed=0)
    assert grids.shape == (4, fmt.segment_steps, 2, fmt.n_pitches) and grids.any()
    assert set(np.unique(grids)) <= {0, 1}
    assert not (grids[:, :, 1] & ~grids[:, :, 0]).any(), "an onset outside a note"
    again = generate.reconstruct(model, grids, style=style)
    assert again.shape == grids.shape
    path = generate.interpolate(model, grids[0], grids[1], steps=3, style=style)
    assert path.shape == (3,) + grids.shape[1:]
    if spec.model.n_styles:
        moved = generate.transfer(model, grids[:2], 0, 1)
        assert moved.shape == grids[:2].shape

    cpu_model, *_ = pretrained.load(name, "cpu")  # same weights, same code: the same probabilities
    x = torch.as_tensor(grids, dtype=torch.float32)
    labels = None if style is None else torch.zeros(len(x), dtype=torch.long)
    model.eval()
    cpu_model.eval()
    with torch.no_grad():
        on_gpu = model(x.to(CUDA), None if labels is None else labels.to(CUDA), sample=False)["logits"]
        on_cpu = cpu_model(x, labels, sample=False)["logits"]
    torch.testing.assert_close(on_gpu.cpu().sigmoid(), on_cpu.sigmoid(), atol=2e-2, rtol=0)  # cuDNN: TF32
