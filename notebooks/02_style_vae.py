# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
#     name: 02_style_vae.ipynb
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
# # Music grids with a recurrent VAE: style
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/gridvae/gridvae/blob/main/notebooks/02_style_vae.ipynb)
#
# The VAE of `01_basic_vae`, now told the style of what it reads and writes
# (the MIDI-VAE idea), with a decoder that hears the step before and decides
# each step's notes together, as one chord (the parameters say how):
#
# - a learned **style embedding** is concatenated to the encoder's input and
#   to the decoder's input at every step;
# - a **classifier from `z` to the style**, trained with its own loss weight,
#   makes the encoder keep a compact representation of style in `z`.
#
# With it the notebook **generates in a chosen style**, **moves from one style
# to another** from the same `z`, **transfers a piece** to another style, and
# moves pieces along an **attribute vector** within their style (more notes or
# fewer, longer, wider).
# An **independent style classifier**, trained only on real music, judges the
# results. Edit the parameters, then run every cell from top to bottom (in
# Colab: *Runtime > Run all*, on a GPU runtime). `PRETRAINED = True` skips
# training and starts from the style model shipped with the repository: its
# first music plays within a minute or two, even on a CPU. `MY_MIDI` moves
# your own pieces into every style.

# %% tags=["parameters"]
#@markdown **Run.** `PRETRAINED` skips training and plays the style model shipped with the repository within a minute.
SMOKE = False  #@param {type:"boolean"}
PRETRAINED = False  #@param {type:"raw"}
RUN_NAME = "style"  #@param {type:"string"}
#@markdown `PRETRAINED`: True for the shipped model, or the path of a trained run folder or checkpoint (e.g. from `python -m helpers.cli train`).
#@markdown `RUN_NAME`: the run folder; run again with the same name to resume training.
USE_DRIVE = True  #@param {type:"boolean"}
#@markdown `USE_DRIVE`: in Colab, keep data and runs on Google Drive (else on the runtime's disk, gone with it).
REPO = "gridvae/gridvae"  #@param {type:"string"}
#@markdown `REPO`: where Colab installs the helpers from: GitHub `owner/name` (optionally `@branch`), a git URL, a folder or a zip.
#@markdown ---
#@markdown **Data.** `SOURCE`: "music21" (the corpus inside the music21 package), a folder `<root>/<style>/*.mid`, or a zip/tar path or URL.
SOURCE = "music21"  #@param {type:"string"}
STYLES = "bach,folk,palestrina"  #@param {type:"string"}
#@markdown `STYLES`: at least two, comma-separated; empty for all (every subfolder of a folder, the corpus's five).
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
EPOCH_SEGMENTS = 4000  #@param {type:"integer"}
#@markdown Grid: steps per quarter note, bars per segment; random transposition while training; segments per epoch, every style equally frequent.
#@markdown ---
#@markdown **Model.**
PRESET = "autoregressive"  #@param ["seed", "autoregressive", "hierarchical"]
CHORDS = "nade"  #@param ["independent", "nade"]
CHORD_VOICES = True  #@param {type:"boolean"}
NOTES = "whole"  #@param ["whole", "frames"]
NOTE_ENDS = "onsets"  #@param ["length", "onsets", "joint"]
SCHEDULED_SAMPLING = 0.0  #@param {type:"number"}
BAR_PLAN = False  #@param {type:"boolean"}
#@markdown The defaults are the decoder ablation's best style model (the report): a decoder that hears the step before, chords with their voices, notes that end where the next starts.
#@markdown `CHORDS`: "nade" decides each step's notes together, as one chord (slower); `CHORD_VOICES` (with "nade"): each new note also hears how many the step has started and which lie an octave below, with weights from the decoder's state, so a one-voice style can stop at one note; `NOTES`: "whole" draws each note's length at its onset, "frames" holds a note while each step's frame is chosen; `NOTE_ENDS` (whole notes): "onsets" also ends a note where the notes of its step start (a line's next note), "joint" as "onsets" with the notes going on deciding in turn from the lowest, each hearing which below it ended, "length" by its length alone; `SCHEDULED_SAMPLING`: share of past steps the decoder hears from its own draws while training; `BAR_PLAN`: z also gives each bar's pitches, trained on the real ones (weight `PLAN_WEIGHT`), and the decoder hears its bar's plan at every step, so z must carry what each bar holds and decoding has the bar's pitches to go back to.
ENC_HIDDEN = 128  #@param {type:"integer"}
LATENT = 32  #@param {type:"integer"}
DEC_HIDDEN = 256  #@param {type:"integer"}
DEC_INPUT = 128  #@param {type:"integer"}
STYLE_DIM = 16  #@param {type:"integer"}
STYLE_WEIGHT = 5.0  #@param {type:"number"}
STYLE_LATENT = 0  #@param {type:"integer"}
STYLE_ADVERSARY = 0.0  #@param {type:"number"}
#@markdown `STYLE_LATENT`: the classifier reads only this many dimensions of z, the style code that transfer swaps (0: all of z); `STYLE_ADVERSARY`: weight of an adversary that keeps style out of the rest of z.
#@markdown Size of the style embedding; weight of the z -> style classifier's loss.
#@markdown ---
#@markdown **Training.** `EPOCHS`: None trains 150 epochs on a GPU, 40 on a CPU, and a resumed run finishes its plan.
EPOCHS = None  #@param {type:"raw"}
EXTEND = False  #@param {type:"boolean"}
#@markdown `EXTEND`: on resume, let `EPOCHS` differ from the run's plan (the extra epochs run at the final learning rate).
BATCH_SIZE = 64  #@param {type:"integer"}
LR = 1e-3  #@param {type:"number"}
PRECISION = "auto"  #@param ["auto", "fp32", "fp16", "bf16"]
BETA = 0.5  #@param {type:"number"}
BETA_WARMUP = 1000  #@param {type:"integer"}
FREE_BITS = 0.25  #@param {type:"number"}
ONSET_WEIGHT = 1.0  #@param {type:"number"}
PLAN_WEIGHT = 1.0  #@param {type:"number"}
#@markdown `ONSET_WEIGHT`: weight of the onset plane in the reconstruction loss: above 1 a note start missed or invented costs more than a sounding step (the ELBO reported stays unweighted).
MONITOR = "sample_distance"  #@param ["free_f1", "sample_distance"]
#@markdown `MONITOR`: what chooses `best.pt`, the weights the notebook goes on with (`last.pt` is always the latest epoch): "free_f1", held-out pieces reconstructed freely; "sample_distance", samples from the prior against held-out pieces, statistic by statistic (per style), for a decoder whose reconstructions peak early while its samples still improve.
JUDGE_EPOCHS = 20  #@param {type:"integer"}
JUDGES = 3  #@param {type:"integer"}
#@markdown Epochs of the independent style classifier that judges the results, and how many such judges (from seeds `SEED`, `SEED` + 1, ...) judge together, by their mean probability: one judge, trained on a few pieces per style, varies with its seed.
#@markdown ---
#@markdown **Generation.**
SAMPLES_PER_STYLE = 20  #@param {type:"integer"}
TEMPERATURE = 1.0  #@param {type:"number"}
INTERPOLATION_STEPS = 5  #@param {type:"integer"}
TRANSFERS = 20  #@param {type:"integer"}
STYLE_FROM = ""  #@param {type:"string"}
STYLE_TO = ""  #@param {type:"string"}
#@markdown `STYLE_FROM`, `STYLE_TO`: the two styles the transfer and the style interpolation move between (from one of them to the other); empty: the first and the last style.
TRANSFER_MODE = "bernoulli"  #@param ["bernoulli", "threshold"]
ATTRIBUTE = "notes_per_bar"  #@param ["notes_per_bar", "note_length", "pitch_range", "polyphony", "empty_beats", "in_scale", "pitch_class_entropy"]
ATTRIBUTE_AMOUNT = 1.0  #@param {type:"number"}
#@markdown `ATTRIBUTE`: the statistic whose attribute vector moves held-out pieces of every style, each in its own style (MusicVAE's latent arithmetic), from `-ATTRIBUTE_AMOUNT` to `+ATTRIBUTE_AMOUNT` times the vector.
FLOOR = None  #@param {type:"raw"}
#@markdown `FLOOR`: a note never starts where its onset is less likely than this, in everything drawn (a briefly trained model spreads a little probability over every pitch, and draws stray notes from it); None chooses it on the validation segments after training (0 for a well trained model; a shipped model's, chosen when it was trained).
ONSET_TEMPERATURE = None  #@param {type:"raw"}
#@markdown `ONSET_TEMPERATURE`: divides the logit of every onset the floor lets through, in everything drawn: above 1 a less likely note starts more often (a thicker texture, for a model whose samples come out thinner than its music), below 1 less often; 1 draws as the model says. None chooses it with the floor on the validation segments after training, among 1, 1.15 and 1.3, and keeps 1 unless another brings the samples measurably closer (`bench/bench_onset_temperature.py` measures it; a shipped model's, 1 unless its card says).
QPM = 100  #@param {type:"integer"}
SEED = 0  #@param {type:"integer"}
#@markdown Samples per style (2 shown, all judged), steps from style A to B, held-out pieces moved to another style; moved pieces (to another style, along an attribute) are written by draws as samples are ("bernoulli") or by the threshold chosen for reconstructions.
MY_MIDI = ""  #@param {type:"string"}
#@markdown `MY_MIDI`: your own MIDI, to move into each style: a file, a folder, or "upload" (Colab's upload dialog).

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
# One experiment spec from the parameters, checked before anything is built
# and saved in every checkpoint; `n_styles > 0` asks for the style-conditioned
# model, with one style per style of the data. With `PRETRAINED`, the shipped
# model, its spec and its judge are loaded instead.

# %%
from dataclasses import replace

import numpy as np
import torch
from IPython.display import display

from helpers import colab, evaluation, experiment, generate, metrics, musicstats, own_midi, pretrained, render
from helpers.experiment import DataConfig, Experiment
from helpers.losses import LossConfig, active_dimensions
from helpers.models import count_parameters, preset
from helpers.train import pick_device

spec = Experiment(
    data=DataConfig(source=SOURCE, styles=STYLES, max_per_style=MAX_PER_STYLE, steps_per_quarter=STEPS_PER_QUARTER,
                    segment_bars=SEGMENT_BARS, time_signature=TIME_SIGNATURE, any_metre=ANY_METRE,
                    transpose=TRANSPOSE, split_seed=SEED, balance_styles=True,
                    epoch_segments=EPOCH_SEGMENTS),
    model=preset(PRESET, enc_hidden=ENC_HIDDEN, latent=LATENT, dec_hidden=DEC_HIDDEN, dec_input=DEC_INPUT,
                 chords=CHORDS, chord_voices=CHORD_VOICES, notes=NOTES, note_ends=NOTE_ENDS,
                 scheduled_sampling=SCHEDULED_SAMPLING, n_styles=2, style_dim=STYLE_DIM,
                 style_latent=STYLE_LATENT, style_adversary=STYLE_ADVERSARY, bar_plan=BAR_PLAN),  # n_styles > 0: conditioned; the data sets how many
    loss=LossConfig(beta=BETA, beta_warmup=BETA_WARMUP, free_bits=FREE_BITS, onset_weight=ONSET_WEIGHT,
                    plan_weight=PLAN_WEIGHT, style_weight=STYLE_WEIGHT),
    # best.pt: the latest epoch whose MONITOR figure is within the probe's noise of its best
    train=experiment.vae_train_config(monitor=MONITOR, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LR,
                                      precision=PRECISION, seed=SEED, extend=EXTEND))
generate.check_mode(TRANSFER_MODE, "TRANSFER_MODE")
generate.check_attribute(ATTRIBUTE, "ATTRIBUTE")
generate.check_positive(ATTRIBUTE_AMOUNT, "ATTRIBUTE_AMOUNT")
generate.check_count(SAMPLES_PER_STYLE, "SAMPLES_PER_STYLE")
generate.check_count(TRANSFERS, "TRANSFERS")
generate.check_count(INTERPOLATION_STEPS, "INTERPOLATION_STEPS", 2)
generate.check_positive(TEMPERATURE, "TEMPERATURE")
generate.check_positive(QPM, "QPM")
own_midi.check(MY_MIDI)  # read after training; a wrong path is named now
if spec.data.styles and not PRETRAINED:  # styles named: a transfer between others is refused now
    generate.style_pair(spec.data.styles, STYLE_FROM, STYLE_TO, ("STYLE_FROM", "STYLE_TO"))
experiment.check_judge(JUDGE_EPOCHS, JUDGES)
if FLOOR is not None:
    generate.check_floor(FLOOR, "FLOOR")
if ONSET_TEMPERATURE is not None:
    generate.check_positive(ONSET_TEMPERATURE, "ONSET_TEMPERATURE")
if SMOKE:  # small enough for a CPU in about a minute; used by the tests (the settings as given are checked first)
    spec, RUN_NAME = spec.validate().smoke(), RUN_NAME + "-smoke"
    JUDGE_EPOCHS, SAMPLES_PER_STYLE, TRANSFERS = 1, 2, 2
device = pick_device()
colab.check_runtime(device)
run = experiment.open_run(RUN_NAME + ("-pretrained" if PRETRAINED else ""), DATA_DIR, RUNS_DIR, USE_DRIVE)
spec = spec.validate().for_device(device, run)
if PRETRAINED:
    asked = spec
    model, spec, card, judge = pretrained.load("style" if PRETRAINED is True else PRETRAINED, device)
    if SMOKE:  # a few files of the shipped model's data
        spec = replace(spec, data=spec.smoke().data)
    names = list(spec.data.styles)  # label k is names[k]
    _, FLOOR, ONSET_TEMPERATURE = pretrained.drawing(card, FLOOR, ONSET_TEMPERATURE)  # chosen when it was trained
    print(pretrained.describe(card))
    for line in pretrained.differences(asked, spec):  # the model's own settings win: say where
        print("  not used:", line)
    if judge is None:  # a run trained without its judge (python -m helpers.cli): train one on its data
        splits = experiment.build_splits(spec.data, run.data_dir)
        judge = experiment.train_judge(splits, run, JUDGE_EPOCHS, spec.train.batch_size, spec.data.epoch_segments,
                                       SEED, device, members=JUDGES)

# %% [markdown]
# ## Data, balanced by style
# With `PRETRAINED` the data is built after the first music, below.

# %%
if not PRETRAINED:
    splits = experiment.build_splits(spec.data, run.data_dir)
    names = splits.styles  # label k is names[k]
    print(splits.report())
    print("training segments per style:",
          dict(zip(names, np.bincount(splits.train.style, minlength=len(names)).tolist())))
a, b = generate.style_pair(names, STYLE_FROM, STYLE_TO, ("STYLE_FROM", "STYLE_TO"))  # what moves where

# %% [markdown]
# ## The style-conditioned model and its training
# The curves add the latent classifier's loss (`style`) to the ELBO terms.
# How the draws are made, where `FLOOR` or `ONSET_TEMPERATURE` is None, is
# then chosen on the validation segments: the lowest floor and temperature
# whose samples come closest to them, style by style and statistic by
# statistic. Then the **independent judge**:
# a separate classifier (`JUDGES` of them, from successive seeds, judging
# together), trained only on real training segments (balanced), never on
# anything the VAE made.

# %%
if not PRETRAINED:
    model = experiment.build_model(spec, splits)
    print(f"{count_parameters(model):,} parameters; styles {names}")
    live = render.LiveLoss(["elbo", "recon", "kl", "style"])
    history = experiment.train_vae(model, spec, splits, run, device, callback=live)
    live.draw(history).savefig(run.figure("loss"), dpi=100)
    print(experiment.epochs_text(history, run, spec.train.monitor))
    if FLOOR is None or ONSET_TEMPERATURE is None:  # what is None is chosen on the validation segments
        FLOOR, ONSET_TEMPERATURE, _ = evaluation.choose_drawing(model, splits.valid.grids(), splits.valid.style,
                                                                FLOOR, ONSET_TEMPERATURE, SEED, splits.train)
    print(f"onset floor {FLOOR}, onset temperature {ONSET_TEMPERATURE}")
    judge = experiment.train_judge(splits, run, JUDGE_EPOCHS, spec.train.batch_size, spec.data.epoch_segments,
                                   SEED, device, members=JUDGES)
fmt = model.config.format

# %% [markdown]
# ## Generation in each style
# The judge says which share of the samples it recognises as the style asked for.

# %%
generated_accuracy, first_audio = {}, {}
for k, name in enumerate(names):
    grids = generate.sample(model, SAMPLES_PER_STYLE, temperature=TEMPERATURE, style=k, mode="bernoulli",
                            seed=SEED + k, floor=FLOOR, onset_temperature=ONSET_TEMPERATURE)
    generated_accuracy[name] = metrics.recognised(judge, grids, k)
    for i, g in enumerate(grids[:2]):
        out = render.save_piece(g, run.outputs("styles") / name, f"{name}_{i + 1}", fmt, QPM)
        first_audio.setdefault(name, out["audio"])
    render.plot_grids(grids[:2], fmt, titles=[f"{name}, sample {i + 1}" for i in range(len(grids[:2]))])
print(f"first audio {time.time() - START:.0f} s after the start")
print("share of samples the judge recognises as their requested style:",
      {k: round(v, 3) for k, v in generated_accuracy.items()})
for name, audio in first_audio.items():
    print(name)
    display(render.play(audio))

# %% [markdown]
# ## The judge and the latent space
# The judge's accuracy on real held-out segments says how far to trust it.
# Posterior means of held-out segments, projected on their two main axes and
# coloured by style; the latent classifier's accuracy on them.

# %%
if PRETRAINED:  # the shipped model's own data settings give its held-out pieces back
    splits = experiment.build_splits(spec.data, run.data_dir)
    experiment.assert_same_styles(splits, spec, "the shipped model")
    print(splits.report())
held_out, held_labels = splits.test.grids(), splits.test.style
real_accuracy = metrics.per_style_accuracy(metrics.predict(judge, held_out), held_labels, names)
print("judge's accuracy on real held-out segments:",  # a style with too few pieces may have none held out
      {k: "none held out" if v is None else round(v, 3) for k, v in real_accuracy.items()})
mu = generate.encode(model, held_out, held_labels)
latent_accuracy = float((model.classify(mu).argmax(1).cpu().numpy() == held_labels).mean())
print(f"latent classifier accuracy on {len(held_out)} held-out segments: {latent_accuracy:.3f}; "
      f"active dimensions: {active_dimensions(mu)} of {model.config.latent}")
fig = render.plot_latent_map(mu.cpu().numpy(), held_labels, names)
fig.savefig(run.figure("latent_map"), dpi=100)

# %% [markdown]
# ## Sampling where each style lies
# The samples above draw `z` from the whole prior, so their code may lie where
# another style's pieces lie, and the style embedding has to win against it.
# Here each style's region of the latent space (the mean and spread of the
# codes of its training segments) gives the codes instead: samples from where
# the style's own pieces lie. The judge says how many it recognises.

# %%
regions = evaluation.style_regions(model, splits, SEED)
vectors = regions[0]  # each style's mean code: also what transfer and the style path move
region_accuracy, region_audio = {}, {}
for k, name in enumerate(names):
    grids = generate.sample(model, SAMPLES_PER_STYLE, temperature=TEMPERATURE, style=k, mode="bernoulli",
                            seed=SEED + k, regions=regions, floor=FLOOR, onset_temperature=ONSET_TEMPERATURE)
    region_accuracy[name] = metrics.recognised(judge, grids, k)
    region_audio[name] = render.save_piece(grids[0], run.outputs("style_regions"), name, fmt, QPM)["audio"]
print("share recognised as their style, sampled from the prior / from the style's region:",
      {name: f"{generated_accuracy[name]:.3f} / {region_accuracy[name]:.3f}" for name in names})
for name, audio in region_audio.items():
    print(name)
    display(render.play(audio))

# %% [markdown]
# ## Style transfer
# Held-out pieces of style A (`STYLE_FROM`), encoded as A and decoded as B
# (`STYLE_TO`), next to the originals; the judge says how many now sound like
# B. The style classifier
# on `z` makes the encoder keep the style in `z`, so decoding with B's style
# embedding alone leaves some of A in the code: the code also moves by the
# difference between the mean codes of B and A (MusicVAE's attribute vectors,
# here per style, from training segments); with a style code (`STYLE_LATENT`
# > 0) the code is instead replaced by B's mean code, as in MIDI-VAE. The
# moved codes are written as B's samples are, by draws (`TRANSFER_MODE`); the
# threshold chosen on the validation segments for reconstructions, low enough
# to find a piece's notes, can write a moved code as clusters of ten notes a
# step, a texture of no style.

# %%
label = f"{names[a]}_to_{names[b]}"
THRESHOLD, _ = evaluation.choose_threshold(model, splits.valid.grids(), splits.valid.style)
source = held_out[held_labels == a][:TRANSFERS]
embedding_accuracy = transfer_accuracy = None
if not len(source):  # a style with too few pieces may have none held out
    print(f"no held-out segment of {names[a]} to transfer: STYLE_FROM names another style")
else:
    by_embedding = generate.transfer(model, source, a, b, TRANSFER_MODE, THRESHOLD, seed=SEED, floor=FLOOR,
                                     onset_temperature=ONSET_TEMPERATURE)
    moved_grids = generate.transfer(model, source, a, b, TRANSFER_MODE, THRESHOLD, vectors=vectors, seed=SEED,
                                    floor=FLOOR, onset_temperature=ONSET_TEMPERATURE)
    embedding_accuracy = metrics.recognised(judge, by_embedding, b)
    transfer_accuracy = metrics.recognised(judge, moved_grids, b)
    print(f"transferred {names[a]} -> {names[b]} ({len(source)} held-out segments), recognised as {names[b]}: "
          f"{embedding_accuracy:.3f} by the style embedding alone, {transfer_accuracy:.3f} with the code moved too")
for i in range(min(2, len(source))):
    pair = [source[i], moved_grids[i]]
    render.plot_grids(pair, fmt, titles=[f"original ({names[a]})", f"as {names[b]}"])
    render.save_piece(generate.concatenate(pair), run.outputs("transfer"), f"{label}_{i + 1}", fmt, QPM)

# %% [markdown]
# ## From one style to another, from one `z`
# The style embedding moves from A to B in `INTERPOLATION_STEPS` steps, and
# the code with it, as transfer moves it: `z` moves by the difference between
# B's and A's mean codes (with a style code, the code moves instead, from A's
# mean code to B's); the judge's probability of B is measured along the way.
# Every step is drawn with the same dice, so the music changes gradually
# along the path rather than being drawn afresh at each step.

# %%
z = torch.randn(model.config.latent, generator=torch.Generator().manual_seed(SEED)) * TEMPERATURE
path = generate.style_path(model, z, a, b, INTERPOLATION_STEPS, mode="bernoulli", seed=SEED, vectors=vectors,
                           floor=FLOOR, onset_temperature=ONSET_TEMPERATURE)
prob_b = metrics.predict(judge, path)[:, b]
strip = generate.concatenate(path)
render.plot_grids([strip], fmt, titles=[f"{names[a]} -> {names[b]}, one segment per step"],
                  line_every=fmt.segment_steps)
moved = render.save_piece(strip, run.outputs("style_interpolation"), label, fmt, QPM)
print(f"judge's probability of {names[b]} along the way:", np.round(prob_b, 3).tolist())
display(render.play(moved["audio"]))

# %% [markdown]
# ## Attribute vectors, in each style
# MusicVAE's latent arithmetic, as in the basic notebook: the mean code of the
# training segments with the most of `ATTRIBUTE` (their top quarter) minus
# that of the segments with the least is a direction in `z`. It is taken
# within each style and averaged over the styles, so that it asks for more of
# the statistic, not for the style that has more of it (Palestrina's notes are
# longer than a folk tune's). Held-out pieces of each style (up to 32) are
# moved from `-ATTRIBUTE_AMOUNT` to `+ATTRIBUTE_AMOUNT` times it in their own
# style, every amount of a piece drawn with the same dice, so what changes is
# the vector's doing; the statistic's mean is printed at every amount.

# %%
vector = generate.attribute_vectors(model, splits.train.grids(), splits.train.style, names=[ATTRIBUTE],
                                    seed=SEED)[ATTRIBUTE]
amounts = np.linspace(-ATTRIBUTE_AMOUNT, ATTRIBUTE_AMOUNT, 5)
attribute_means, strips = {}, []
print(f"{musicstats.STATISTICS[ATTRIBUTE]}, mean of held-out pieces at "
      + ", ".join(f"{a:+.2f}" for a in amounts) + " x vector:")
for k, name in enumerate(names):
    pieces = held_out[held_labels == k][:32]
    if not len(pieces):  # a style with too few pieces may have none held out
        print(f"{name}: none held out")
        continue
    moved_k = generate.shift_attribute(model, pieces, vector, amounts, k, mode=TRANSFER_MODE, threshold=THRESHOLD,
                                       seed=SEED, floor=FLOOR, onset_temperature=ONSET_TEMPERATURE)
    attribute_means[name] = musicstats.means_along(moved_k, fmt, [ATTRIBUTE])[ATTRIBUTE]
    print(f"{name} ({len(pieces)} pieces):", ", ".join(f"{m:.2f}" for m in attribute_means[name]))
    strips.append((name, generate.concatenate(moved_k[0])))
render.plot_grids([strip for _, strip in strips], fmt, line_every=fmt.segment_steps,
                  titles=[f"{name}, {ATTRIBUTE}: one segment per amount, from less to more" for name, _ in strips])
for name, strip in strips:
    shifted = render.save_piece(strip, run.outputs("attributes"), f"{name}_{ATTRIBUTE}", fmt, QPM)
    print(name)
    display(render.play(shifted["audio"]))

# %% [markdown]
# ## Your own MIDI in every style
# Set `MY_MIDI` to a file or a folder (in Colab, `"upload"` opens a dialog).
# Each file is read like a dataset file (one that cannot be used is named with
# its reason) and cut into consecutive segments from its first bar line (up to
# eight: 32 bars of 4/4); the judge names the style the piece is closest to,
# and the piece is moved into every other style, segment by segment, and
# played after the original.

# %%
mine, skipped = own_midi.read(own_midi.find(MY_MIDI, run.outputs("my_midi")), fmt)
print(own_midi.report(mine, skipped, fmt))
for piece in mine:
    own_style = metrics.closest_style(judge, piece.grids)
    print(f"{piece.name}: closest to {names[own_style]}")
    for k, name in enumerate(names):
        if k != own_style:
            moved_own = generate.transfer(model, piece.grids, own_style, k, TRANSFER_MODE, THRESHOLD,
                                          vectors=vectors, seed=SEED, floor=FLOOR,
                                          onset_temperature=ONSET_TEMPERATURE)
            out = render.save_piece(generate.concatenate([*piece.grids, *moved_own]), run.outputs("my_midi"),
                                    f"{piece.stem}_as_{name}", fmt, QPM, title=f"{piece.name}, then as {name}")
            print(f"as {name}")
            display(render.play(out["audio"]))

# %% [markdown]
# ## Figures and files
# Everything lands in the run folder (on Drive in Colab). In Colab, the MIDI,
# audio and pictures also download as one zip.

# %%
for f in run.media():
    print(f.relative_to(run.root))
render.download(run.media(), zip_as=run.root / "music.zip")
summary = {
    "pretrained": PRETRAINED, "styles": names, "device": str(device), "judge_real_accuracy": real_accuracy,
    "latent_classifier_accuracy": latent_accuracy, "generated_accuracy": generated_accuracy,
    "generated_accuracy_style_region": region_accuracy, "threshold": THRESHOLD, "floor": FLOOR,
    "onset_temperature": ONSET_TEMPERATURE,
    "transfer": {"from": names[a], "to": names[b], "accuracy": transfer_accuracy,
                 "accuracy_embedding_only": embedding_accuracy, "mode": TRANSFER_MODE},
    "interpolation_prob_b": prob_b.tolist(),
    "attribute": {"name": ATTRIBUTE, "amounts": amounts.tolist(), "means": attribute_means},
    "notebook_seconds": time.time() - START}
if not PRETRAINED:
    summary.update({"epochs": history[-1]["epoch"], "valid_elbo": history[-1]["valid_elbo"],
                    "train_seconds": sum(row["seconds"] for row in history)})
run.write_summary(summary)
print(f"done in {time.time() - START:.0f} s")
