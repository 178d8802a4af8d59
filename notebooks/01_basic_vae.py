# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Music grids with a recurrent VAE: the basic model
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/gridvae/gridvae/blob/main/notebooks/01_basic_vae.ipynb)
#
# A variational autoencoder learns to squeeze four bars of music into a small
# vector `z` and to rebuild the bars from it. Once trained, any `z` drawn from
# a standard normal decodes to new music, and a path between two pieces' `z`
# becomes a smooth morph from one to the other.
#
# - **Data**: beat-quantised piano-rolls ("grids") of `(steps, 2, pitches)`:
#   which notes sound at each sixteenth note, and which start there.
# - **Encoder**: two LSTM layers read the grid; dense layers give the mean and
#   log-variance of `z`.
# - **Decoder**: a dense layer on `z`, one LSTM that rebuilds the steps, a
#   dense layer to note probabilities.
# - **Loss**: binary cross-entropy of the notes plus `beta` times the KL
#   divergence to a standard normal, with a warm-up of `beta` and free bits so
#   the latent code stays in use.
#
# Edit the parameters in the next cell, then run every cell from top to bottom
# (in Colab: *Runtime > Run all*, on a GPU runtime). Checkpoints go to Google
# Drive, so after a disconnect, running the notebook again with the same
# `RUN_NAME` carries on where it stopped.

# %% tags=["parameters"]
SMOKE = False              # tiny data, model and training: the whole notebook in about a minute on a CPU
RUN_NAME = "basic"         # run folder; run again with the same name to resume training
SOURCE = "music21"         # "music21" (the embedded corpus), a folder <root>/<style>/*.mid, or a zip/tar path or URL
STYLES = ["bach"]          # styles to train on (corpus: bach, palestrina, monteverdi, trecento, folk, ...)
MAX_PER_STYLE = 500        # corpus only: at most this many files per style
DATA_DIR = None            # None: on Drive in Colab, data/ of the repository elsewhere
RUNS_DIR = None            # None: on Drive in Colab, runs/ of the repository elsewhere

STEPS_PER_QUARTER = 4      # grid resolution: 4 steps per quarter note (sixteenth notes)
SEGMENT_STEPS = 64         # steps per training segment (64: four bars of 4/4)
TRANSPOSE = 3              # random transposition while training, in semitones up or down

PRESET = "autoregressive"  # decoder: "autoregressive" (also hears the last step) or "seed" (z -> LSTM -> notes)
ENC_HIDDEN = 128           # encoder LSTM units per direction
LATENT = 32                # size of z
DEC_HIDDEN = 256           # decoder LSTM units
DEC_INPUT = 128            # size of the projection of z fed to the decoder at every step

EPOCHS = None              # None: chosen from the device (see below)
BATCH_SIZE = 64
LR = 1e-3                  # peak learning rate (AdamW, warm-up then cosine decay)
BETA = 0.5                 # weight of the KL term after warm-up
BETA_WARMUP = 1000         # optimiser steps over which beta rises from 0
FREE_BITS = 0.25           # nats per latent dimension that cost nothing

N_SAMPLES = 4              # new pieces drawn from the prior
TEMPERATURE = 1.0          # scale of the prior when sampling
DECODE = "bernoulli"       # samples: probabilities -> notes by "bernoulli" draws or a "threshold"
THRESHOLD = 0.3            # probability above which a note starts or goes on (reconstructions, interpolation);
                           # below 0.5 because a sparse model's probabilities stay cautious
INTERPOLATION_STEPS = 5    # segments from one held-out piece to another
QPM = 100                  # tempo of the MIDI and audio written
SEED = 0
REPO = "gridvae/gridvae"   # GitHub repository the Colab setup installs the helpers from

# %% [markdown]
# ## Setup
# In Colab this installs what the runtime lacks (FluidSynth for audio, this
# repository's `helpers`); torch is Colab's own. Elsewhere it does nothing.

# %%
import subprocess
import sys
import time

START = time.time()
if "google.colab" in sys.modules:  # a Colab runtime
    subprocess.run(["apt-get", "-qq", "install", "-y", "fluidsynth"], check=False)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pyfluidsynth", f"git+https://github.com/{REPO}"],
                   check=True)

# %%
import json

import numpy as np
import torch
from IPython.display import display

from helpers import colab, generate, metrics, render
from helpers.data import build, format_report
from helpers.losses import LossConfig, active_dimensions, make_step
from helpers.models import GridVAE, count_parameters, preset
from helpers.segments import SegmentDataset, make_loader
from helpers.train import TrainConfig, pick_device, train

if SMOKE:  # small enough for a CPU in about a minute; used by the tests
    RUN_NAME, MAX_PER_STYLE, BATCH_SIZE, N_SAMPLES, EPOCHS = RUN_NAME + "-smoke", 8, 16, 2, EPOCHS or 2
    ENC_HIDDEN, LATENT, DEC_HIDDEN, DEC_INPUT, BETA_WARMUP = 16, 8, 32, 16, 10
    THRESHOLD = 0.05  # a barely trained model's probabilities stay near the prior (about 0.05)

device = pick_device()
if EPOCHS is None:
    EPOCHS = 150 if device.type == "cuda" else 40
# Every setting is checked here, before any data is built or any step trained.
loss_config = LossConfig(beta=BETA, beta_warmup=BETA_WARMUP, free_bits=FREE_BITS).validate()
train_config = TrainConfig(epochs=EPOCHS, lr=LR, seed=SEED).validate()
preset(PRESET)  # an unknown preset is refused here
if DECODE not in generate.MODES:
    raise ValueError(f"DECODE must be one of {generate.MODES}, got {DECODE!r}")
DATA_DIR, RUN_DIR = colab.run_folders(RUN_NAME, DATA_DIR, RUNS_DIR)

# %% [markdown]
# ## Data
# The dataset is built once and cached; a second run loads it in a moment.
# Segments start on a downbeat; the split into train/validation/test is by
# piece, so no bar of a test piece is ever trained on.

# %%
pieces = build(SOURCE, DATA_DIR, styles=STYLES, steps_per_quarter=STEPS_PER_QUARTER,
               max_per_style=MAX_PER_STYLE)
print(format_report(pieces, SEGMENT_STEPS))
train_set = SegmentDataset(pieces, "train", SEGMENT_STEPS, transpose=TRANSPOSE, styles=STYLES)
window = (train_set.low, train_set.high)
valid_set = SegmentDataset(pieces, "valid", SEGMENT_STEPS, window=window, styles=STYLES)
test_set = SegmentDataset(pieces, "test", SEGMENT_STEPS, window=window, styles=STYLES)
print(f"segments: {len(train_set)} train, {len(valid_set)} valid, {len(test_set)} test; "
      f"pitches {render.pitch_name(window[0])}..{render.pitch_name(window[1])}")
fig = render.plot_grids([train_set.grid(i) for i in range(0, len(train_set), max(1, len(train_set) // 3))][:3],
                        window[0], titles=["training segment"] * 3)

# %% [markdown]
# ## Model

# %%
vae_config = preset(PRESET, n_pitches=train_set.n_pitches, low=window[0], seq_len=SEGMENT_STEPS,
                     steps_per_quarter=STEPS_PER_QUARTER, enc_hidden=ENC_HIDDEN, latent=LATENT,
                     dec_hidden=DEC_HIDDEN, dec_input=DEC_INPUT)
torch.manual_seed(SEED)
model = GridVAE(vae_config)
print(model)
print(f"{count_parameters(model):,} parameters")

# %% [markdown]
# ## Training
# A live curve of the loss per segment (in nats): the reconstruction term, the
# KL term and their sum, the negative ELBO. `last.pt` is saved every epoch and
# `best.pt` on the best validation ELBO.

# %%
live = render.LiveLoss(["elbo", "recon", "kl"])
history = train(model, make_step(loss_config), make_loader(train_set, BATCH_SIZE),
                make_loader(valid_set, BATCH_SIZE, shuffle=False), train_config, RUN_DIR, callback=live,
                device=device, extra={"loss_config": loss_config.to_dict(), "styles": pieces.styles,
                       "data": {"source": str(SOURCE), "max_per_style": MAX_PER_STYLE, "transpose": TRANSPOSE}})
live.draw(history).savefig(RUN_DIR / "loss.png", dpi=100)
last = history[-1]
print(f"epoch {last['epoch']}: valid ELBO {last['valid_elbo']:.1f} nats/segment "
      f"(reconstruction {last['valid_recon']:.1f}, KL {last['valid_kl']:.1f})")

# %% [markdown]
# ## Posterior health
# A latent dimension is *active* when its posterior mean moves with the input.
# Free bits and the beta warm-up keep most of them active.

# %%
held_out = np.stack([test_set.grid(i) for i in range(len(test_set))])
mu = generate.encode(model, held_out)
print(f"active latent dimensions: {active_dimensions(mu)} of {LATENT} (on {len(held_out)} test segments)")

# %% [markdown]
# ## Reconstructions of held-out segments

# %%
rng = np.random.default_rng(SEED)
picks = rng.choice(len(held_out), size=min(3, len(held_out)), replace=False)
originals = held_out[picks]
rebuilt = generate.reconstruct(model, originals, mode="threshold", threshold=THRESHOLD)
pairs = [g for pair in zip(originals, rebuilt) for g in pair]
fig = render.plot_grids(pairs, window[0], titles=["original", "reconstruction"] * len(picks))
fig.savefig(RUN_DIR / "reconstructions.png", dpi=100)
all_rebuilt = generate.reconstruct(model, held_out, mode="threshold", threshold=THRESHOLD)
scores = metrics.reconstruction_scores(held_out, all_rebuilt, STEPS_PER_QUARTER, window[0])
print(f"reconstructions of all {len(held_out)} test segments (threshold {THRESHOLD}):")
print("  ".join(f"{k} {v:.3f}" for k, v in scores.items()))

# %% [markdown]
# ## New music from the prior

# %%
samples = generate.sample(model, N_SAMPLES, temperature=TEMPERATURE, mode=DECODE, threshold=THRESHOLD, seed=SEED)
fig = render.plot_grids(samples, window[0], titles=[f"sample {k + 1}" for k in range(len(samples))])
written = [render.save_piece(g, RUN_DIR / "samples", f"sample_{k + 1}", window[0], STEPS_PER_QUARTER, QPM)
           for k, g in enumerate(samples)]
print(f"audio: {written[0]['backend']}")
for k, w in enumerate(written):
    print(f"sample {k + 1}")
    display(render.play(w["audio"]))

# %% [markdown]
# ## Interpolation between two held-out pieces
# Spherical interpolation between the two codes, decoded step by step and
# written as one continuous piece.

# %%
a, b = held_out[picks[0]], held_out[picks[-1] if len(picks) > 1 else 0]
path = generate.interpolate(model, a, b, steps=INTERPOLATION_STEPS, mode="threshold", threshold=THRESHOLD)
morph = generate.concatenate(path)
fig = render.plot_grids([morph], window[0], titles=["interpolation, one segment per step"],
                        steps_per_bar=SEGMENT_STEPS)
interpolation = render.save_piece(morph, RUN_DIR / "interpolation", "interpolation", window[0],
                                  STEPS_PER_QUARTER, QPM)
display(render.play(interpolation["audio"]))

# %% [markdown]
# ## Files
# Everything lands in the run folder (on Drive in Colab). In Colab, the MIDI
# files also download as one zip.

# %%
for k, (orig, rec) in enumerate(zip(originals, rebuilt)):
    render.save_piece(generate.concatenate([orig, rec]), RUN_DIR / "reconstructions",
                      f"original_then_reconstruction_{k + 1}", window[0], STEPS_PER_QUARTER, QPM, audio=False)
for f in sorted(RUN_DIR.rglob("*")):
    if f.is_file():
        print(f.relative_to(RUN_DIR))
render.download(sorted(RUN_DIR.rglob("*.mid")), zip_as=RUN_DIR / "midi.zip")
summary = {"preset": PRESET, "epochs": last["epoch"], "device": str(device), "valid_elbo": last["valid_elbo"],
           "valid_recon": last["valid_recon"], "valid_kl": last["valid_kl"],
           "active_dims": active_dimensions(mu), "latent": LATENT, "test_segments": len(held_out),
           "test_scores": scores, "threshold": THRESHOLD,
           "train_seconds": sum(row["seconds"] for row in history), "notebook_seconds": time.time() - START}
(RUN_DIR / "summary.json").write_text(json.dumps(summary, indent=1))
print(f"done in {summary['notebook_seconds']:.0f} s")
