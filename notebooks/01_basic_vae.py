# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
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
SEGMENT_BARS = 4           # bars per training segment (4 bars of 4/4: 64 steps)
TRANSPOSE = 3              # random transposition while training, in semitones up or down

PRESET = "autoregressive"  # decoder: "autoregressive" (also hears the last step) or "seed" (z -> LSTM -> notes)
ENC_HIDDEN = 128           # encoder LSTM units per direction
LATENT = 32                # size of z
DEC_HIDDEN = 256           # decoder LSTM units
DEC_INPUT = 128            # size of the projection of z fed to the decoder at every step

EPOCHS = None              # None: 150 on a GPU, 40 on a CPU
BATCH_SIZE = 64
LR = 1e-3                  # peak learning rate (AdamW, warm-up then cosine decay)
BETA = 0.5                 # weight of the KL term after warm-up
BETA_WARMUP = 1000         # optimiser steps over which beta rises from 0
FREE_BITS = 0.25           # nats per latent dimension that cost nothing

N_SAMPLES = 4              # new pieces drawn from the prior
TEMPERATURE = 1.0          # scale of the prior when sampling
DECODE = "bernoulli"       # samples: probabilities -> notes by "bernoulli" draws or a "threshold"
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

# %% [markdown]
# The parameters become one experiment spec; every setting is checked here,
# before any data is built or any step trained. The spec is saved in every
# checkpoint, so a checkpoint alone rebuilds this model and its data.

# %%
import numpy as np
from IPython.display import display

from helpers import evaluation, experiment, generate, render
from helpers.experiment import DataConfig, Experiment
from helpers.losses import LossConfig, active_dimensions
from helpers.models import count_parameters, preset
from helpers.train import TrainConfig, pick_device

spec = Experiment(
    data=DataConfig(source=SOURCE, styles=STYLES, max_per_style=MAX_PER_STYLE, steps_per_quarter=STEPS_PER_QUARTER,
                    segment_bars=SEGMENT_BARS, transpose=TRANSPOSE, split_seed=SEED),
    model=preset(PRESET, enc_hidden=ENC_HIDDEN, latent=LATENT, dec_hidden=DEC_HIDDEN, dec_input=DEC_INPUT),
    loss=LossConfig(beta=BETA, beta_warmup=BETA_WARMUP, free_bits=FREE_BITS),
    train=TrainConfig(epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LR, seed=SEED))
if SMOKE:  # small enough for a CPU in about a minute; used by the tests
    spec, RUN_NAME, N_SAMPLES = spec.smoke(), RUN_NAME + "-smoke", 2
generate.check_mode(DECODE)
device = pick_device()
spec = spec.validate().for_device(device)
run = experiment.open_run(RUN_NAME, DATA_DIR, RUNS_DIR)

# %% [markdown]
# ## Data
# The dataset is built once and cached; a second run loads it in a moment.
# Segments start on a downbeat; the split into train/validation/test is by
# piece, so no bar of a test piece is ever trained on. The grid format (the
# resolution, the pitch window fitted to the data, the metre) travels with
# the segments and the model from here on.

# %%
splits = experiment.build_splits(spec.data, run.data_dir)
fmt = splits.format
print(splits.report())
shown = np.linspace(0, len(splits.train) - 1, 3).astype(int)
fig = render.plot_grids(splits.train.grids(shown), fmt, titles=["training segment"] * 3)

# %% [markdown]
# ## Model

# %%
model = experiment.build_model(spec, splits)
print(model)
print(f"{count_parameters(model):,} parameters")

# %% [markdown]
# ## Training
# A live curve of the loss per segment (in nats): the reconstruction term, the
# KL term and their sum, the negative ELBO. `last.pt` is saved every epoch and
# `best.pt` on the best validation ELBO.

# %%
live = render.LiveLoss(["elbo", "recon", "kl"])
history = experiment.train_vae(model, spec, splits, run, device, callback=live)
live.draw(history).savefig(run.figure("loss"), dpi=100)
print(experiment.epochs_text(history))

# %% [markdown]
# ## Posterior health
# A latent dimension is *active* when its posterior mean moves with the input.
# Free bits and the beta warm-up keep most of them active.

# %%
held_out = splits.test.grids()
mu = generate.encode(model, held_out)
print(f"active latent dimensions: {active_dimensions(mu)} of {model.config.latent} "
      f"(on {len(held_out)} test segments)")

# %% [markdown]
# ## Reconstructions of held-out segments
# Each test segment is encoded and decoded step by step; the threshold that
# turns probabilities into notes is the one with the best frame F1 on the
# validation segments (as `python -m helpers.evaluation` chooses it).

# %%
rec = evaluation.reconstruction(model, splits.valid.grids(), held_out)
THRESHOLD = rec["threshold"]
print(f"reconstructions of all {len(held_out)} test segments (threshold {THRESHOLD}, chosen on validation):")
print("  ".join(f"{k} {v:.3f}" for k, v in rec["scores"].items()))
picks = np.random.default_rng(SEED).choice(len(held_out), size=min(3, len(held_out)), replace=False)
originals, rebuilt = held_out[picks], rec["rebuilt"][picks]
pairs = [g for pair in zip(originals, rebuilt) for g in pair]
fig = render.plot_grids(pairs, fmt, titles=["original", "reconstruction"] * len(picks))
fig.savefig(run.figure("reconstructions"), dpi=100)

# %% [markdown]
# ## New music from the prior

# %%
samples = generate.sample(model, N_SAMPLES, temperature=TEMPERATURE, mode=DECODE, threshold=THRESHOLD, seed=SEED)
fig = render.plot_grids(samples, fmt, titles=[f"sample {k + 1}" for k in range(len(samples))])
written = [render.save_piece(g, run.outputs("samples"), f"sample_{k + 1}", fmt, QPM) for k, g in enumerate(samples)]
print(f"audio: {written[0]['backend']}")
for k, w in enumerate(written):
    print(f"sample {k + 1}")
    display(render.play(w["audio"]))

# %% [markdown]
# ## Interpolation between two held-out pieces
# Spherical interpolation between the two codes, decoded step by step and
# written as one continuous piece.

# %%
a, b = held_out[picks[0]], held_out[picks[-1]]
path = generate.interpolate(model, a, b, steps=INTERPOLATION_STEPS, mode="threshold", threshold=THRESHOLD)
morph = generate.concatenate(path)
fig = render.plot_grids([morph], fmt, titles=["interpolation, one segment per step"], line_every=fmt.segment_steps)
interpolation = render.save_piece(morph, run.outputs("interpolation"), "interpolation", fmt, QPM)
display(render.play(interpolation["audio"]))

# %% [markdown]
# ## Files
# Everything lands in the run folder (on Drive in Colab). In Colab, the MIDI
# files also download as one zip.

# %%
for k, (orig, again) in enumerate(zip(originals, rebuilt)):
    render.save_piece(generate.concatenate([orig, again]), run.outputs("reconstructions"),
                      f"original_then_reconstruction_{k + 1}", fmt, QPM, audio=False)
for f in sorted(run.root.rglob("*")):
    if f.is_file():
        print(f.relative_to(run.root))
render.download(sorted(run.root.rglob("*.mid")), zip_as=run.root / "midi.zip")
last = history[-1]
summary = run.write_summary({
    "epochs": last["epoch"], "device": str(device), "valid_elbo": last["valid_elbo"],
    "valid_recon": last["valid_recon"], "valid_kl": last["valid_kl"], "active_dims": active_dimensions(mu),
    "test_segments": len(held_out), "threshold": THRESHOLD, "test_scores": rec["scores"],
    "train_seconds": sum(row["seconds"] for row in history), "notebook_seconds": time.time() - START})
print(f"done in {time.time() - START:.0f} s")
