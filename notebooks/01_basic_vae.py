# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
#     name: 01_basic_vae.ipynb
#     provenance: []
#     toc_visible: true
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: accelerator,colab
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
# a standard normal decodes to new music, a path between two pieces' `z`
# becomes a smooth morph from one to the other, and a direction in `z` found
# from the music itself (an attribute vector) asks a piece for more notes or
# fewer, longer ones or a wider range.
#
# - **Data**: beat-quantised piano-rolls ("grids") of `(steps, 2, pitches)`:
#   which notes sound at each sixteenth note, and which start there.
# - **Encoder**: two LSTM layers read the grid; dense layers give the mean and
#   log-variance of `z`.
# - **Decoder**: a dense layer on `z`, one LSTM that rebuilds the steps, a
#   dense layer to note probabilities: at each step, which notes start, and
#   for each note that starts, how long it lasts (`NOTES = "whole"`), so a
#   note is decided whole where it begins. With `BAR_PLAN`, a second dense
#   layer on `z` gives each bar's pitches, a plan the LSTM hears through the
#   bar.
# - **Loss**: binary cross-entropy of the notes plus `beta` times the KL
#   divergence to a standard normal, with a warm-up of `beta` and free bits so
#   the latent code stays in use (with `BAR_PLAN`, plus `PLAN_WEIGHT` times
#   the binary cross-entropy of the plan against the pitches each bar really
#   holds, so `z` has to carry them).
#
# Edit the parameters in the next cell, then run every cell from top to bottom
# (in Colab: *Runtime > Run all*, on a GPU runtime). Checkpoints go to Google
# Drive, so after a disconnect, running the notebook again with the same
# `RUN_NAME` carries on where it stopped. `PRETRAINED = True` skips training
# and starts from the model shipped with the repository: its first music plays
# within a minute or two, even on a CPU. `MY_MIDI` brings your own pieces in.

# %% tags=["parameters"]
#@markdown **Run.** `PRETRAINED` skips training and plays the model shipped with the repository within a minute.
SMOKE = False  #@param {type:"boolean"}
PRETRAINED = False  #@param {type:"raw"}
RUN_NAME = "basic"  #@param {type:"string"}
#@markdown `PRETRAINED`: True for the shipped model, or the path of a trained run folder or checkpoint (e.g. from `python -m helpers.cli train`).
#@markdown `RUN_NAME`: the run folder; run again with the same name to resume training.
USE_DRIVE = True  #@param {type:"boolean"}
#@markdown `USE_DRIVE`: in Colab, keep data and runs on Google Drive (else on the runtime's disk, gone with it).
REPO = "gridvae/gridvae"  #@param {type:"string"}
#@markdown `REPO`: where Colab installs the helpers from: GitHub `owner/name` (optionally `@branch`), a git URL, a folder or a zip.
#@markdown ---
#@markdown **Data.** `SOURCE`: "music21" (the corpus inside the music21 package), a folder `<root>/<style>/*.mid`, or a zip/tar path or URL.
SOURCE = "music21"  #@param {type:"string"}
STYLES = "bach"  #@param {type:"string"}
#@markdown `STYLES`: comma-separated (corpus: bach, palestrina, monteverdi, trecento, folk, ...); empty for all (every subfolder of a folder, the corpus's five).
MAX_PER_STYLE = 500  #@param {type:"integer"}
DATA_DIR = None  #@param {type:"raw"}
RUNS_DIR = None  #@param {type:"raw"}
#@markdown `DATA_DIR`, `RUNS_DIR`: None puts them on Drive in Colab, in `data/` and `runs/` of the repository elsewhere.
STEPS_PER_QUARTER = 4  #@param {type:"integer"}
SEGMENT_BARS = 4  #@param {type:"integer"}
TIME_SIGNATURE = "4/4"  #@param ["4/4", "3/4", "2/4", "6/8", "2/2"] {allow-input: true}
ANY_METRE = False  #@param {type:"boolean"}
#@markdown `TIME_SIGNATURE`: the grid's metre; segments whose bar lines are not its own (a 3/4 tune in a 4/4 grid) are left out, and the data table counts them; `ANY_METRE` keeps them, cut into its bars.
TRANSPOSE = 3  #@param {type:"integer"}
#@markdown Grid: steps per quarter note, bars per segment; random transposition in semitones while training.
#@markdown ---
#@markdown **Model.** `PRESET`: "seed" (z -> LSTM -> notes), "autoregressive" (the decoder also hears the last step) or "hierarchical" (a conductor gives each bar its own start).
PRESET = "seed"  #@param ["seed", "autoregressive", "hierarchical"]
CHORDS = "independent"  #@param ["independent", "nade"]
CHORD_VOICES = False  #@param {type:"boolean"}
NOTES = "whole"  #@param ["whole", "frames"]
NOTE_ENDS = "length"  #@param ["length", "onsets", "joint"]
SCHEDULED_SAMPLING = 0.0  #@param {type:"number"}
BAR_PLAN = False  #@param {type:"boolean"}
#@markdown `CHORDS`: "nade" decides each step's notes together, as one chord (slower); `CHORD_VOICES` (with "nade"): each new note also hears how many the step has started and which lie an octave below, with weights from the decoder's state, so a one-voice style can stop at one note; `NOTES`: "whole" draws each note's length at its onset, "frames" holds a note while each step's frame is chosen; `NOTE_ENDS` (whole notes): "onsets" also ends a note where the notes of its step start (a line's next note), "joint" as "onsets" with the notes going on deciding in turn from the lowest, each hearing which below it ended, "length" by its length alone; `SCHEDULED_SAMPLING`: share of past steps the decoder hears from its own draws while training; `BAR_PLAN`: z also gives each bar's pitches, trained on the real ones (weight `PLAN_WEIGHT`), and the decoder hears its bar's plan at every step, so z must carry what each bar holds and decoding has the bar's pitches to go back to.
ENC_HIDDEN = 128  #@param {type:"integer"}
LATENT = 32  #@param {type:"integer"}
DEC_HIDDEN = 256  #@param {type:"integer"}
DEC_INPUT = 128  #@param {type:"integer"}
#@markdown Encoder LSTM units per direction, size of z, decoder LSTM units, size of z's projection fed at every step.
#@markdown ---
#@markdown **Training.** `EPOCHS`: None trains 150 epochs on a GPU, 40 on a CPU, and a resumed run finishes its plan.
EPOCHS = None  #@param {type:"raw"}
EXTEND = False  #@param {type:"boolean"}
#@markdown `EXTEND`: on resume, let `EPOCHS` differ from the run's plan (the extra epochs run at the final learning rate).
BATCH_SIZE = 64  #@param {type:"integer"}
LR = 1e-3  #@param {type:"number"}
PRECISION = "auto"  #@param ["auto", "fp32", "fp16", "bf16"]
#@markdown `PRECISION`: auto is bf16 on GPUs that have it (A100, L4), fp16 with loss scaling on a T4, fp32 on a CPU.
BETA = 0.5  #@param {type:"number"}
BETA_WARMUP = 1000  #@param {type:"integer"}
FREE_BITS = 0.25  #@param {type:"number"}
ONSET_WEIGHT = 1.0  #@param {type:"number"}
PLAN_WEIGHT = 0.1  #@param {type:"number"}
MONITOR = "free_f1"  #@param ["free_f1", "sample_distance"]
#@markdown `MONITOR`: what chooses `best.pt`, the weights the notebook goes on with (`last.pt` is always the latest epoch): "free_f1", held-out pieces reconstructed freely; "sample_distance", samples from the prior against held-out pieces, statistic by statistic (per style), for a decoder whose reconstructions peak early while its samples still improve.
#@markdown Weight of the KL term after warm-up, optimiser steps of the warm-up, nats per latent dimension that cost nothing; weight of the bar plan's loss (with `BAR_PLAN`). `ONSET_WEIGHT`: weight of the onset plane in the reconstruction loss: above 1 a note start missed or invented costs more than a sounding step (the ELBO reported stays unweighted).
#@markdown ---
#@markdown **Generation.**
N_SAMPLES = 4  #@param {type:"integer"}
TEMPERATURE = 1.0  #@param {type:"number"}
DECODE = "bernoulli"  #@param ["bernoulli", "threshold"]
FLOOR = None  #@param {type:"raw"}
#@markdown `FLOOR`: a note never starts where its onset is less likely than this (a briefly trained model spreads a little probability over every pitch, and draws stray notes from it); None chooses it on the validation segments after training (0 for a well trained model; a shipped model's, chosen when it was trained).
ONSET_TEMPERATURE = None  #@param {type:"raw"}
#@markdown `ONSET_TEMPERATURE`: divides the logit of every onset the floor lets through, in everything drawn: above 1 a less likely note starts more often (a thicker texture, for a model whose samples come out thinner than its music), below 1 less often; 1 draws as the model says. None chooses it with the floor on the validation segments after training, among 1, 1.15 and 1.3, and keeps 1 unless another brings the samples measurably closer (`bench/bench_onset_temperature.py` measures it; a shipped model's, 1 unless its card says).
INTERPOLATION_STEPS = 5  #@param {type:"integer"}
ATTRIBUTE = "notes_per_bar"  #@param ["notes_per_bar", "note_length", "pitch_range", "polyphony", "empty_beats", "in_scale", "pitch_class_entropy"]
ATTRIBUTE_AMOUNT = 1.0  #@param {type:"number"}
#@markdown `ATTRIBUTE`: the statistic whose attribute vector moves a held-out piece (MusicVAE's latent arithmetic), from `-ATTRIBUTE_AMOUNT` to `+ATTRIBUTE_AMOUNT` times the vector.
QPM = 100  #@param {type:"integer"}
SEED = 0  #@param {type:"integer"}
MY_MIDI = ""  #@param {type:"string"}
#@markdown `MY_MIDI`: your own MIDI, to encode, reconstruct and interpolate: a file, a folder, or "upload" (Colab's upload dialog).

# %% [markdown]
# ## Setup
# In Colab this installs what the runtime lacks: FluidSynth for audio, and
# this repository's `helpers` from `REPO` (torch is Colab's own). Elsewhere
# it does nothing (the README's set-up command installs everything).

# %%
import os
import subprocess
import sys
import time

START = time.time()
if "google.colab" in sys.modules:  # a Colab runtime
    subprocess.run("apt-get -qq install -y libfluidsynth3 || (apt-get -qq update && apt-get -qq install -y "
                   "libfluidsynth3)", shell=True, capture_output=True)  # without it, audio is a sine fallback
    github = REPO.count("/") == 1 and ":" not in REPO and not os.path.exists(REPO)  # owner/name[@ref]
    target = f"git+https://github.com/{REPO}" if github else REPO
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", target], capture_output=True, text=True)
    if pip.returncode:
        class SetupError(Exception):
            def _render_traceback_(self):  # shown by IPython instead of a traceback
                return [str(self)]
        raise SetupError(f"Could not install the helpers from REPO = {REPO!r} ({target}):\n  "
                         + "\n  ".join(pip.stderr.strip().splitlines()[-3:]) + "\nSet REPO in the first cell to the "
                         "GitHub owner/name of this repository or your fork (optionally @branch), or to a git URL, "
                         "a folder or a zip file pip can install; then run all cells again.")

# %% [markdown]
# The parameters become one experiment spec; every setting is checked here,
# before any data is built or any step trained. The spec is saved in every
# checkpoint, so a checkpoint alone rebuilds this model and its data. With
# `PRETRAINED`, the shipped model and its own spec are loaded instead.

# %%
from dataclasses import replace

import numpy as np
from IPython.display import display

from helpers import colab, evaluation, experiment, generate, musicstats, own_midi, pretrained, render
from helpers.experiment import DataConfig, Experiment
from helpers.losses import LossConfig, active_dimensions
from helpers.models import count_parameters, preset
from helpers.train import pick_device

spec = Experiment(
    data=DataConfig(source=SOURCE, styles=STYLES, max_per_style=MAX_PER_STYLE, steps_per_quarter=STEPS_PER_QUARTER,
                    segment_bars=SEGMENT_BARS, time_signature=TIME_SIGNATURE, any_metre=ANY_METRE,
                    transpose=TRANSPOSE, split_seed=SEED),
    model=preset(PRESET, enc_hidden=ENC_HIDDEN, latent=LATENT, dec_hidden=DEC_HIDDEN, dec_input=DEC_INPUT,
                 chords=CHORDS, chord_voices=CHORD_VOICES, notes=NOTES, note_ends=NOTE_ENDS,
                 scheduled_sampling=SCHEDULED_SAMPLING, bar_plan=BAR_PLAN),
    loss=LossConfig(beta=BETA, beta_warmup=BETA_WARMUP, free_bits=FREE_BITS, onset_weight=ONSET_WEIGHT,
                    plan_weight=PLAN_WEIGHT),
    # best.pt: the latest epoch whose MONITOR figure is within the probe's noise of its best
    train=experiment.vae_train_config(monitor=MONITOR, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LR,
                                      precision=PRECISION, seed=SEED, extend=EXTEND))
generate.check_mode(DECODE)
generate.check_count(N_SAMPLES, "N_SAMPLES")
generate.check_count(INTERPOLATION_STEPS, "INTERPOLATION_STEPS", 2)
generate.check_positive(TEMPERATURE, "TEMPERATURE")
generate.check_positive(QPM, "QPM")
generate.check_attribute(ATTRIBUTE, "ATTRIBUTE")
generate.check_positive(ATTRIBUTE_AMOUNT, "ATTRIBUTE_AMOUNT")
own_midi.check(MY_MIDI)  # read after training; a wrong path is named now
if SMOKE:  # small enough for a CPU in about a minute; used by the tests (the settings as given are checked first)
    spec, RUN_NAME, N_SAMPLES = spec.validate().smoke(), RUN_NAME + "-smoke", 2
if FLOOR is not None:
    generate.check_floor(FLOOR, "FLOOR")
if ONSET_TEMPERATURE is not None:
    generate.check_positive(ONSET_TEMPERATURE, "ONSET_TEMPERATURE")
device = pick_device()
colab.check_runtime(device)
run = experiment.open_run(RUN_NAME + ("-pretrained" if PRETRAINED else ""), DATA_DIR, RUNS_DIR, USE_DRIVE)
spec = spec.validate().for_device(device, run)
if PRETRAINED:
    asked = spec
    model, spec, card, _ = pretrained.load("basic" if PRETRAINED is True else PRETRAINED, device)
    if SMOKE:  # a few files of the shipped model's data
        spec = replace(spec, data=spec.smoke().data)
    print(pretrained.describe(card))
    for line in pretrained.differences(asked, spec):  # the model's own settings win: say where
        print("  not used:", line)
    THRESHOLD, FLOOR, ONSET_TEMPERATURE = pretrained.drawing(card, FLOOR, ONSET_TEMPERATURE)  # chosen when trained

# %% [markdown]
# ## Data
# The dataset is built once and cached; a second run loads it in a moment.
# Segments start on a downbeat; the split into train/validation/test is by
# piece, so no bar of a test piece is ever trained on. The grid format (the
# resolution, the pitch window fitted to the data, the metre) travels with
# the segments and the model from here on. With `PRETRAINED` the data is
# built after the first music, below.

# %%
if not PRETRAINED:
    splits = experiment.build_splits(spec.data, run.data_dir)
    print(splits.report())
    shown = np.linspace(0, len(splits.train) - 1, 3).astype(int)
    fig = render.plot_grids(splits.train.grids(shown), splits.format, titles=["training segment"] * 3)

# %% [markdown]
# ## Model and training
# A live curve of the loss per segment (in nats): the reconstruction term, the
# KL term and their sum, the negative ELBO. `last.pt` is saved every epoch and
# `best.pt` at the epoch that scores best by `MONITOR` (validation segments
# decoded freely, or samples against them); the model then takes its weights,
# and the line under the curve says which epoch that was. The threshold that
# turns note probabilities into notes is then chosen on the validation segments,
# and how the draws are made where `FLOOR` or `ONSET_TEMPERATURE` is None: the
# lowest floor and temperature whose samples come closest to the validation
# segments, statistic by statistic.

# %%
if not PRETRAINED:
    model = experiment.build_model(spec, splits)
    print(f"{count_parameters(model):,} parameters")
    live = render.LiveLoss(["elbo", "recon", "kl"])
    history = experiment.train_vae(model, spec, splits, run, device, callback=live)
    live.draw(history).savefig(run.figure("loss"), dpi=100)
    print(experiment.epochs_text(history, run, spec.train.monitor))
    THRESHOLD, _ = evaluation.choose_threshold(model, splits.valid.grids())
    if FLOOR is None or ONSET_TEMPERATURE is None:  # what is None is chosen on the validation segments
        FLOOR, ONSET_TEMPERATURE, _ = evaluation.choose_drawing(model, splits.valid.grids(), None, FLOOR,
                                                                ONSET_TEMPERATURE, SEED, splits.train)
    print(f"decoding threshold {THRESHOLD}, onset floor {FLOOR}, onset temperature {ONSET_TEMPERATURE}")
fmt = model.config.format
print(model)

# %% [markdown]
# ## New music from the prior

# %%
samples = generate.sample(model, N_SAMPLES, temperature=TEMPERATURE, mode=DECODE, threshold=THRESHOLD, seed=SEED,
                          floor=FLOOR, onset_temperature=ONSET_TEMPERATURE)
fig = render.plot_grids(samples, fmt, titles=[f"sample {k + 1}" for k in range(len(samples))])
written = [render.save_piece(g, run.outputs("samples"), f"sample_{k + 1}", fmt, QPM) for k, g in enumerate(samples)]
print(f"audio: {written[0]['backend']}; first audio {time.time() - START:.0f} s after the start")
for k, w in enumerate(written):
    print(f"sample {k + 1}")
    display(render.play(w["audio"]))

# %% [markdown]
# ## Posterior health
# A latent dimension is *active* when its posterior mean moves with the input.
# Free bits and the beta warm-up keep most of them active.

# %%
if PRETRAINED:  # the shipped model's own data settings give its held-out pieces back
    splits = experiment.build_splits(spec.data, run.data_dir)
    print(splits.report())
held_out = splits.test.grids()
mu = generate.encode(model, held_out)
print(f"active latent dimensions: {active_dimensions(mu)} of {model.config.latent} "
      f"(on {len(held_out)} test segments)")

# %% [markdown]
# ## Sampling where the training pieces lie
# The samples above draw `z` from the whole prior. A model's codes need not
# fill it (a briefly trained one keeps only a few nats in `z`, near the
# prior's centre), so some draws come from where no piece lies. Here `z` comes
# instead from the region of the training segments' codes, their mean and
# spread (as the style notebook draws each style's): 64 samples of each kind
# against the held-out pieces, statistic by statistic (in real standard
# deviations), then the first from the region heard.

# %%
region = evaluation.style_regions(model, splits, SEED)
real_stats = musicstats.statistics(held_out, fmt)
drawn = {}
for kind, where, regions in (("prior", "the prior", None), ("region", "the training pieces' region", region)):
    drawn[kind] = generate.sample(model, 64, temperature=TEMPERATURE, mode="bernoulli", seed=SEED,
                                  regions=regions, floor=FLOOR, onset_temperature=ONSET_TEMPERATURE)
    name, distance = musicstats.furthest(real_stats, musicstats.statistics(drawn[kind], fmt))
    print(f"64 samples from {where}: furthest statistic " + (f"{musicstats.STATISTICS[name]}, {distance:.2f} sd"
                                                           if name else "none (too few held-out pieces to measure)"))
in_region = render.save_piece(drawn["region"][0], run.outputs("region"), "sample_from_region", fmt, QPM)
display(render.play(in_region["audio"]))

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
for k, (orig, again) in enumerate(zip(originals, rebuilt)):
    render.save_piece(generate.concatenate([orig, again]), run.outputs("reconstructions"),
                      f"original_then_reconstruction_{k + 1}", fmt, QPM, audio=False)

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
# ## Attribute vectors: more of something, or less
# MusicVAE's latent arithmetic. The mean code of the training segments with
# the most of `ATTRIBUTE` (their top quarter) minus that of the segments with
# the least is a direction in `z`: added to a piece's code it asks for more of
# it, subtracted for less. A held-out piece is moved from `-ATTRIBUTE_AMOUNT`
# to `+ATTRIBUTE_AMOUNT` times the vector, every amount drawn with the same
# dice, so what changes is the vector's doing; the statistic is measured on
# 32 held-out pieces moved alike (`python -m bench.bench_attributes` measures
# every statistic, and what else each vector moves).

# %%
vector = generate.attribute_vectors(model, splits.train.grids(), names=[ATTRIBUTE], seed=SEED)[ATTRIBUTE]
amounts = np.linspace(-ATTRIBUTE_AMOUNT, ATTRIBUTE_AMOUNT, 5)
others = np.random.default_rng(SEED).choice(len(held_out), min(32, len(held_out)), replace=False)
moving = np.r_[picks[0], others[others != picks[0]][:31]]  # the piece shown, and others to measure
moved = generate.shift_attribute(model, held_out[moving], vector, amounts, mode=DECODE, threshold=THRESHOLD,
                                 seed=SEED, floor=FLOOR, onset_temperature=ONSET_TEMPERATURE)
measured = musicstats.means_along(moved, fmt, [ATTRIBUTE])[ATTRIBUTE]
print(f"{musicstats.STATISTICS[ATTRIBUTE]}, mean of {len(moving)} held-out pieces:",
      ", ".join(f"{a:+.2f} x vector: {m:.2f}" for a, m in zip(amounts, measured)))
strip = generate.concatenate(moved[list(moving).index(picks[0])])
fig = render.plot_grids([strip], fmt, titles=[f"{ATTRIBUTE}: one segment per amount, from less to more"],
                        line_every=fmt.segment_steps)
shifted = render.save_piece(strip, run.outputs("attributes"), ATTRIBUTE, fmt, QPM)
display(render.play(shifted["audio"]))

# %% [markdown]
# ## Your own MIDI
# Set `MY_MIDI` to a file or a folder (in Colab, `"upload"` opens a dialog).
# Each file is read like a dataset file (one that cannot be used is named with
# its reason), cut into consecutive segments from its first bar line (up to
# eight: 32 bars of 4/4), moved by octaves into the model's pitch range if it
# lies outside; each piece is rebuilt segment by segment and played after the
# original, and the first segments of the first two pieces are interpolated.

# %%
mine, skipped = own_midi.read(own_midi.find(MY_MIDI, run.outputs("my_midi")), fmt)
print(own_midi.report(mine, skipped, fmt))
for piece in mine:
    again = generate.reconstruct(model, piece.grids, threshold=THRESHOLD)
    out = render.save_piece(generate.concatenate([*piece.grids, *again]), run.outputs("my_midi"),
                            f"{piece.stem}_then_reconstruction", fmt, QPM, title=f"{piece.name}, then rebuilt")
    display(render.play(out["audio"]))
if len(mine) >= 2:
    path = generate.interpolate(model, mine[0].grids[0], mine[1].grids[0], steps=INTERPOLATION_STEPS,
                                mode="threshold", threshold=THRESHOLD)
    out = render.save_piece(generate.concatenate(path), run.outputs("my_midi"), "interpolation", fmt, QPM,
                            title=f"{mine[0].name} -> {mine[1].name}")
    display(render.play(out["audio"]))

# %% [markdown]
# ## Files
# Everything lands in the run folder (on Drive in Colab). In Colab, the MIDI,
# audio and pictures also download as one zip.

# %%
for f in run.media():
    print(f.relative_to(run.root))
render.download(run.media(), zip_as=run.root / "music.zip")
summary = {"pretrained": PRETRAINED, "device": str(device), "active_dims": active_dimensions(mu),
           "test_segments": len(held_out), "threshold": THRESHOLD, "floor": FLOOR,
           "onset_temperature": ONSET_TEMPERATURE, "test_scores": rec["scores"],
           "attribute": {"name": ATTRIBUTE, "amounts": amounts.tolist(), "means": measured},
           "notebook_seconds": time.time() - START}
if not PRETRAINED:
    last = history[-1]
    summary.update({"epochs": last["epoch"], "valid_elbo": last["valid_elbo"], "valid_recon": last["valid_recon"],
                    "valid_kl": last["valid_kl"], "train_seconds": sum(row["seconds"] for row in history)})
run.write_summary(summary)
print(f"done in {time.time() - START:.0f} s")
