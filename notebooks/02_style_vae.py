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
# # Music grids with a recurrent VAE: style
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/gridvae/gridvae/blob/main/notebooks/02_style_vae.ipynb)
#
# The same VAE as in `01_basic_vae`, now told the style of what it reads and
# writes (the MIDI-VAE idea):
#
# - a learned **style embedding** is concatenated to the encoder's input and
#   to the decoder's input at every step;
# - a **classifier from `z` to the style**, trained with its own loss weight,
#   makes the encoder keep a compact representation of style in `z`.
#
# With it the notebook **generates in a chosen style**, **moves from one style
# to another** with the same `z`, and **transfers a piece** to another style.
# An **independent style classifier**, trained only on real music, judges the
# results. Edit the parameters, then run every cell from top to bottom.

# %% tags=["parameters"]
SMOKE = False              # tiny data, model and training: the whole notebook in about a minute on a CPU
RUN_NAME = "style"         # run folder; run again with the same name to resume training
SOURCE = "music21"         # "music21" (the embedded corpus), a folder <root>/<style>/*.mid, or a zip/tar path or URL
STYLES = ["bach", "folk", "palestrina"]  # at least two styles
MAX_PER_STYLE = 500        # corpus only: at most this many files per style
DATA_DIR = None            # None: on Drive in Colab, data/ of the repository elsewhere
RUNS_DIR = None            # None: on Drive in Colab, runs/ of the repository elsewhere

STEPS_PER_QUARTER = 4      # grid resolution: 4 steps per quarter note (sixteenth notes)
SEGMENT_BARS = 4           # bars per training segment (4 bars of 4/4: 64 steps)
TRANSPOSE = 3              # random transposition while training, in semitones up or down
EPOCH_SEGMENTS = 4000      # segments per epoch, drawn so that every style is equally frequent

PRESET = "autoregressive"  # decoder: "autoregressive" or "seed"
ENC_HIDDEN = 128           # encoder LSTM units per direction
LATENT = 32                # size of z
DEC_HIDDEN = 256           # decoder LSTM units
DEC_INPUT = 128            # size of the projection of z fed to the decoder at every step
STYLE_DIM = 16             # size of the style embedding
STYLE_WEIGHT = 5.0         # weight of the z -> style classifier loss

EPOCHS = None              # None: 150 on a GPU, 40 on a CPU
BATCH_SIZE = 64
LR = 1e-3
BETA = 0.5                 # weight of the KL term after warm-up
BETA_WARMUP = 1000         # optimiser steps over which beta rises from 0
FREE_BITS = 0.25           # nats per latent dimension that cost nothing
JUDGE_EPOCHS = 8           # epochs of the independent style classifier

SAMPLES_PER_STYLE = 20     # generated per style (the first 2 are shown, all are judged)
TEMPERATURE = 1.0
INTERPOLATION_STEPS = 5    # from style A to style B, same z
TRANSFERS = 20             # held-out pieces moved to another style (the first 2 are shown)
QPM = 100
SEED = 0
REPO = "gridvae/gridvae"   # GitHub repository the Colab setup installs the helpers from

# %% [markdown]
# ## Setup

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
# One experiment spec from the parameters, checked before anything is built
# and saved in every checkpoint; `n_styles > 0` asks for the style-conditioned
# model, with one style per style of the data.

# %%
import numpy as np
import torch
from IPython.display import display

from helpers import evaluation, experiment, generate, metrics, render
from helpers.experiment import DataConfig, Experiment
from helpers.losses import LossConfig, active_dimensions
from helpers.models import count_parameters, preset
from helpers.train import TrainConfig, pick_device

spec = Experiment(
    data=DataConfig(source=SOURCE, styles=STYLES, max_per_style=MAX_PER_STYLE, steps_per_quarter=STEPS_PER_QUARTER,
                    segment_bars=SEGMENT_BARS, transpose=TRANSPOSE, split_seed=SEED, balance_styles=True,
                    epoch_segments=EPOCH_SEGMENTS),
    model=preset(PRESET, enc_hidden=ENC_HIDDEN, latent=LATENT, dec_hidden=DEC_HIDDEN, dec_input=DEC_INPUT,
                 n_styles=2, style_dim=STYLE_DIM),  # n_styles > 0: conditioned; the data sets how many
    loss=LossConfig(beta=BETA, beta_warmup=BETA_WARMUP, free_bits=FREE_BITS, style_weight=STYLE_WEIGHT),
    train=TrainConfig(epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LR, seed=SEED))
if SMOKE:  # small enough for a CPU in about a minute; used by the tests
    spec, RUN_NAME = spec.smoke(), RUN_NAME + "-smoke"
    JUDGE_EPOCHS, SAMPLES_PER_STYLE, TRANSFERS = 1, 2, 2
device = pick_device()
spec = spec.validate().for_device(device)
run = experiment.open_run(RUN_NAME, DATA_DIR, RUNS_DIR)

# %% [markdown]
# ## Data, balanced by style

# %%
splits = experiment.build_splits(spec.data, run.data_dir)
fmt, names = splits.format, splits.styles  # label k is names[k]
print(splits.report())
print("training segments per style:",
      dict(zip(names, np.bincount(splits.train.style, minlength=len(names)).tolist())))

# %% [markdown]
# ## The style-conditioned model and its training
# The curves add the latent classifier's loss (`style`) to the ELBO terms.

# %%
model = experiment.build_model(spec, splits)
print(f"{count_parameters(model):,} parameters; styles {names}")
live = render.LiveLoss(["elbo", "recon", "kl", "style"])
history = experiment.train_vae(model, spec, splits, run, device, callback=live)
live.draw(history).savefig(run.figure("loss"), dpi=100)
print(experiment.epochs_text(history))

# %% [markdown]
# ## The independent judge
# A separate classifier, trained only on real training segments (balanced),
# never on anything the VAE made. Its accuracy on real held-out segments says
# how far to trust it.

# %%
judge = experiment.train_judge(splits, run, JUDGE_EPOCHS, spec.train.batch_size, spec.data.epoch_segments, SEED,
                               device)
held_out, held_labels = splits.test.grids(), splits.test.style
real_accuracy = metrics.per_style_accuracy(metrics.predict(judge, held_out), held_labels, names)
print("judge's accuracy on real held-out segments:", {k: round(v, 3) for k, v in real_accuracy.items()})

# %% [markdown]
# ## The latent space
# Posterior means of held-out segments, projected on their two main axes and
# coloured by style; the latent classifier's accuracy on them.

# %%
mu = generate.encode(model, held_out, held_labels)
latent_accuracy = float((model.classify(mu).argmax(1).cpu().numpy() == held_labels).mean())
print(f"latent classifier accuracy on {len(held_out)} held-out segments: {latent_accuracy:.3f}; "
      f"active dimensions: {active_dimensions(mu)} of {model.config.latent}")
fig = render.plot_latent_map(mu.cpu().numpy(), held_labels, names)
fig.savefig(run.figure("latent_map"), dpi=100)

# %% [markdown]
# ## Generation in each style

# %%
generated_accuracy, first_audio = {}, {}
for k, name in enumerate(names):
    grids = generate.sample(model, SAMPLES_PER_STYLE, temperature=TEMPERATURE, style=k, mode="bernoulli",
                            seed=SEED + k)
    generated_accuracy[name] = metrics.recognised(judge, grids, k)
    for i, g in enumerate(grids[:2]):
        out = render.save_piece(g, run.outputs("styles") / name, f"{name}_{i + 1}", fmt, QPM)
        first_audio.setdefault(name, out["audio"])
    render.plot_grids(grids[:2], fmt, titles=[f"{name}, sample {i + 1}" for i in range(len(grids[:2]))])
print("share of samples the judge recognises as their requested style:",
      {k: round(v, 3) for k, v in generated_accuracy.items()})
for name, audio in first_audio.items():
    print(name)
    display(render.play(audio))

# %% [markdown]
# ## From one style to another, same `z`
# The style embedding moves from A to B in `INTERPOLATION_STEPS` steps while
# `z` stays; the judge's probability of B is measured along the way.

# %%
a, b = 0, len(names) - 1
z = torch.randn(model.config.latent, generator=torch.Generator().manual_seed(SEED)) * TEMPERATURE
path = generate.style_path(model, z, a, b, INTERPOLATION_STEPS, mode="bernoulli", seed=SEED)
prob_b = metrics.predict(judge, path)[:, b]
strip = generate.concatenate(path)
label = f"{names[a]}_to_{names[b]}"
render.plot_grids([strip], fmt, titles=[f"{names[a]} -> {names[b]}, one segment per step"],
                  line_every=fmt.segment_steps)
moved = render.save_piece(strip, run.outputs("style_interpolation"), label, fmt, QPM)
print(f"judge's probability of {names[b]} along the way:", np.round(prob_b, 3).tolist())
display(render.play(moved["audio"]))

# %% [markdown]
# ## Style transfer
# Held-out pieces of style A, encoded as A and decoded as B, next to the
# originals; the judge says how many now sound like B. The style classifier
# on `z` makes the encoder keep the style in `z`, so decoding with B's style
# embedding alone leaves some of A in the code: the code also moves by the
# difference between the mean codes of B and A (MusicVAE's attribute vectors,
# here per style, from training segments). The decoding threshold is chosen
# on the validation segments, as the evaluation does.

# %%
THRESHOLD, _ = evaluation.choose_threshold(model, splits.valid.grids(), splits.valid.style)
vectors = evaluation.style_vectors(model, splits, SEED)
source = held_out[held_labels == a][:TRANSFERS]
by_embedding = generate.transfer(model, source, a, b, mode="threshold", threshold=THRESHOLD)
moved_grids = generate.transfer(model, source, a, b, mode="threshold", threshold=THRESHOLD, vectors=vectors)
embedding_accuracy = metrics.recognised(judge, by_embedding, b)
transfer_accuracy = metrics.recognised(judge, moved_grids, b)
print(f"transferred {names[a]} -> {names[b]} ({len(source)} held-out segments), recognised as {names[b]}: "
      f"{embedding_accuracy:.3f} by the style embedding alone, {transfer_accuracy:.3f} with z moved too")
for i in range(min(2, len(source))):
    pair = [source[i], moved_grids[i]]
    render.plot_grids(pair, fmt, titles=[f"original ({names[a]})", f"as {names[b]}"])
    render.save_piece(generate.concatenate(pair), run.outputs("transfer"), f"{label}_{i + 1}", fmt, QPM)

# %% [markdown]
# ## Figures and files

# %%
for f in sorted(run.root.rglob("*")):
    if f.is_file() and f.suffix != ".pt":
        print(f.relative_to(run.root))
render.download(sorted(run.root.rglob("*.mid")), zip_as=run.root / "midi.zip")
run.write_summary({
    "styles": names, "judge_real_accuracy": real_accuracy, "latent_classifier_accuracy": latent_accuracy,
    "generated_accuracy": generated_accuracy, "threshold": THRESHOLD,
    "transfer": {"from": names[a], "to": names[b], "accuracy": transfer_accuracy,
                 "accuracy_embedding_only": embedding_accuracy},
    "interpolation_prob_b": prob_b.tolist(), "epochs": history[-1]["epoch"], "valid_elbo": history[-1]["valid_elbo"],
    "train_seconds": sum(row["seconds"] for row in history), "notebook_seconds": time.time() - START})
print(f"done in {time.time() - START:.0f} s")
