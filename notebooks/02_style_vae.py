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
SEGMENT_STEPS = 64         # steps per training segment (64: four bars of 4/4)
TRANSPOSE = 3              # random transposition while training, in semitones up or down
EPOCH_SEGMENTS = 4000      # segments per epoch, drawn so that every style is equally frequent

PRESET = "autoregressive"  # decoder: "autoregressive" or "seed"
ENC_HIDDEN = 128           # encoder LSTM units per direction
LATENT = 32                # size of z
DEC_HIDDEN = 256           # decoder LSTM units
DEC_INPUT = 128            # size of the projection of z fed to the decoder at every step
STYLE_DIM = 16             # size of the style embedding
STYLE_WEIGHT = 5.0         # weight of the z -> style classifier loss

EPOCHS = None              # None: chosen from the device (see below)
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
THRESHOLD = 0.3            # reconstructions and transfers: probability above which a note starts or goes on
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
    RUN_NAME, MAX_PER_STYLE, BATCH_SIZE, EPOCH_SEGMENTS, EPOCHS = RUN_NAME + "-smoke", 6, 16, 64, EPOCHS or 2
    ENC_HIDDEN, LATENT, DEC_HIDDEN, DEC_INPUT, STYLE_DIM, BETA_WARMUP = 16, 8, 32, 16, 4, 10
    JUDGE_EPOCHS, SAMPLES_PER_STYLE, TRANSFERS = 1, 2, 2
    THRESHOLD = 0.05  # a barely trained model's probabilities stay near the prior (about 0.05)

device = pick_device()
if EPOCHS is None:
    EPOCHS = 150 if device.type == "cuda" else 40
# Every setting is checked here, before any data is built or any step trained.
if len(STYLES) < 2:
    raise ValueError(f"STYLES needs at least two styles, got {STYLES}")
loss_config = LossConfig(beta=BETA, beta_warmup=BETA_WARMUP, free_bits=FREE_BITS, style_weight=STYLE_WEIGHT).validate()
train_config = TrainConfig(epochs=EPOCHS, lr=LR, seed=SEED).validate()
judge_config = TrainConfig(epochs=JUDGE_EPOCHS, lr=LR, seed=SEED, monitor="loss").validate()
preset(PRESET)  # an unknown preset is refused here
DATA_DIR, RUN_DIR = colab.run_folders(RUN_NAME, DATA_DIR, RUNS_DIR)

# %% [markdown]
# ## Data, balanced by style

# %%
pieces = build(SOURCE, DATA_DIR, styles=STYLES, steps_per_quarter=STEPS_PER_QUARTER, max_per_style=MAX_PER_STYLE)
print(format_report(pieces, SEGMENT_STEPS))
names = pieces.styles  # label k is names[k]
train_set = SegmentDataset(pieces, "train", SEGMENT_STEPS, transpose=TRANSPOSE)
window = (train_set.low, train_set.high)
valid_set = SegmentDataset(pieces, "valid", SEGMENT_STEPS, window=window)
test_set = SegmentDataset(pieces, "test", SEGMENT_STEPS, window=window)
print("training segments per style:", dict(zip(names, np.bincount(train_set.style, minlength=len(names)).tolist())))
train_loader = make_loader(train_set, BATCH_SIZE, balance_styles=True, epoch_size=EPOCH_SEGMENTS)
valid_loader = make_loader(valid_set, BATCH_SIZE, shuffle=False)

# %% [markdown]
# ## The style-conditioned model and its training
# The curves add the latent classifier's loss (`style`) to the ELBO terms.

# %%
vae_config = preset(PRESET, n_pitches=train_set.n_pitches, low=window[0], seq_len=SEGMENT_STEPS,
                     steps_per_quarter=STEPS_PER_QUARTER, enc_hidden=ENC_HIDDEN, latent=LATENT,
                     dec_hidden=DEC_HIDDEN, dec_input=DEC_INPUT, n_styles=len(names), style_dim=STYLE_DIM)
torch.manual_seed(SEED)
model = GridVAE(vae_config)
print(f"{count_parameters(model):,} parameters; styles {names}")
live = render.LiveLoss(["elbo", "recon", "kl", "style"])
history = train(model, make_step(loss_config), train_loader, valid_loader, train_config, RUN_DIR / "vae",
                callback=live, device=device, extra={"loss_config": loss_config.to_dict(), "styles": names,
                                                    "data": {"source": str(SOURCE), "max_per_style": MAX_PER_STYLE,
                                                             "transpose": TRANSPOSE}})
live.draw(history).savefig(RUN_DIR / "loss.png", dpi=100)

# %% [markdown]
# ## The independent judge
# A separate classifier, trained only on real training segments (balanced),
# never on anything the VAE made. Its accuracy on real held-out segments says
# how far to trust it.

# %%
torch.manual_seed(SEED)
judge = metrics.StyleClassifier(metrics.ClassifierConfig(n_pitches=train_set.n_pitches, n_styles=len(names)))
train(judge, metrics.classifier_step, make_loader(train_set, BATCH_SIZE, balance_styles=True,
                                                  epoch_size=EPOCH_SEGMENTS),
      valid_loader, judge_config, RUN_DIR / "judge", device=device, progress=False)
held_out = np.stack([test_set.grid(i) for i in range(len(test_set))])
held_labels = test_set.style
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
      f"active dimensions: {active_dimensions(mu)} of {LATENT}")
fig = render.plot_latent_map(mu.cpu().numpy(), held_labels, names)
fig.savefig(RUN_DIR / "latent_map.png", dpi=100)

# %% [markdown]
# ## Generation in each style

# %%
generated_accuracy, first_audio = {}, {}
for k, name in enumerate(names):
    grids = generate.sample(model, SAMPLES_PER_STYLE, temperature=TEMPERATURE, style=k, mode="bernoulli",
                            seed=SEED + k)
    guess = metrics.predict(judge, grids).argmax(1)
    generated_accuracy[name] = float((guess == k).mean())
    for i, g in enumerate(grids[:2]):
        out = render.save_piece(g, RUN_DIR / "styles" / name, f"{name}_{i + 1}", window[0], STEPS_PER_QUARTER, QPM)
        first_audio.setdefault(name, out["audio"])
    render.plot_grids(grids[:2], window[0], titles=[f"{name}, sample {i + 1}" for i in range(len(grids[:2]))])
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
z = torch.randn(LATENT, generator=torch.Generator().manual_seed(SEED)) * TEMPERATURE
path = generate.style_path(model, z, a, b, INTERPOLATION_STEPS, mode="bernoulli", seed=SEED)
prob_b = metrics.predict(judge, path)[:, b]
strip = generate.concatenate(path)
label = f"{names[a]}_to_{names[b]}"
render.plot_grids([strip], window[0], titles=[f"{names[a]} -> {names[b]}, one segment per step"],
                  steps_per_bar=SEGMENT_STEPS)
moved = render.save_piece(strip, RUN_DIR / "style_interpolation", label, window[0], STEPS_PER_QUARTER, QPM)
print(f"judge's probability of {names[b]} along the way:", np.round(prob_b, 3).tolist())
display(render.play(moved["audio"]))

# %% [markdown]
# ## Style transfer
# Held-out pieces of style A, encoded as A and decoded as B, next to the
# originals; the judge says how many now sound like B. The style classifier
# on `z` makes the encoder keep the style in `z`, so decoding with B's style
# embedding alone leaves some of A in the code: the code also moves by the
# difference between the mean codes of B and A (MusicVAE's attribute vectors,
# here per style, from training segments).

# %%
known = train_set.per_style(300, SEED)
vectors = generate.style_vectors(model, np.stack([train_set.grid(i) for i in known]), train_set.style[known])
source = np.flatnonzero(held_labels == a)[:TRANSFERS]
by_embedding = generate.transfer(model, held_out[source], a, b, mode="threshold", threshold=THRESHOLD)
moved_grids = generate.transfer(model, held_out[source], a, b, mode="threshold", threshold=THRESHOLD,
                                vectors=vectors)
embedding_accuracy = float((metrics.predict(judge, by_embedding).argmax(1) == b).mean())
transfer_accuracy = float((metrics.predict(judge, moved_grids).argmax(1) == b).mean())
print(f"transferred {names[a]} -> {names[b]} ({len(source)} held-out segments), recognised as {names[b]}: "
      f"{embedding_accuracy:.3f} by the style embedding alone, {transfer_accuracy:.3f} with z moved too")
for i in range(min(2, len(source))):
    pair = [held_out[source[i]], moved_grids[i]]
    render.plot_grids(pair, window[0], titles=[f"original ({names[a]})", f"as {names[b]}"])
    render.save_piece(generate.concatenate(pair), RUN_DIR / "transfer", f"{label}_{i + 1}", window[0],
                      STEPS_PER_QUARTER, QPM)

# %% [markdown]
# ## Figures and files

# %%
report = {"styles": names, "judge_real_accuracy": real_accuracy, "latent_classifier_accuracy": latent_accuracy,
          "generated_accuracy": generated_accuracy, "transfer": {"from": names[a], "to": names[b],
                                                                 "accuracy": transfer_accuracy,
                                                                 "accuracy_embedding_only": embedding_accuracy},
          "interpolation_prob_b": prob_b.tolist(), "epochs": history[-1]["epoch"],
          "valid_elbo": history[-1]["valid_elbo"], "notebook_seconds": time.time() - START}
(RUN_DIR / "style_report.json").write_text(json.dumps(report, indent=1))
for f in sorted(RUN_DIR.rglob("*")):
    if f.is_file() and f.suffix != ".pt":
        print(f.relative_to(RUN_DIR))
render.download(sorted(RUN_DIR.rglob("*.mid")), zip_as=RUN_DIR / "midi.zip")
print(f"done in {report['notebook_seconds']:.0f} s")
