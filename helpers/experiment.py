"""One experiment, one spec: the settings that travel together, the splits, the run folder.

An :class:`Experiment` holds four typed configs: the data (:class:`DataConfig`),
the model (:class:`helpers.models.VAEConfig`, which carries the grid format),
the loss (:class:`helpers.losses.LossConfig`) and the optimisation
(:class:`helpers.train.TrainConfig`). A notebook's parameter cell fills one;
every checkpoint stores all four, so a checkpoint alone rebuilds its model
(:func:`load_run`) *and* its data (:func:`build_splits` on ``spec.data``).

- :func:`build_splits` is the one function that turns data settings into the
  train/valid/test segments and their :class:`~helpers.pianoroll.GridFormat`
  (the pitch window is fitted to the data once, then stored);
- :class:`RunFolder` is the one place that knows a run folder's layout;
- :func:`train_vae` and :func:`train_judge` are the training the notebooks
  and benchmarks share.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch

from . import colab, data
from .losses import LossConfig, make_step
from .losses import figures as loss_figures
from .models import GridVAE, VAEConfig
from .musicstats import UNMEASURED
from .pianoroll import GridFormat, parse_time_signature
from .render import pitch_name
from .segments import SegmentDataset, make_loader
from .train import (CheckpointError, TrainConfig, autocast_dtype, check_plan, load_checkpoint, planned_epochs,
                    process_group, train)

GPU_EPOCHS, CPU_EPOCHS = 150, 40  # TrainConfig.epochs=None: chosen from the device
PROBE_SEGMENTS = 64  # validation segments decoded freely after epochs (free_running_probe)
PROBES = 50  # at most about this many probes in a run
PROBE_THRESHOLDS = (0.1, 0.2, 0.3, 0.5)  # the probe's figure is its best frame F1 over these
PROBE_SAMPLES = 64  # prior samples per style drawn after epochs, against validation segments (sample_distance)
PROBE_REAL = 300  # validation segments per style the probe's samples are compared with (and training ones: the unit)
PROBE_UNMEASURED = UNMEASURED  # sd: the figure of samples with nothing to measure
# best.pt is the latest epoch whose probe figure is within this of its best so far: about the figure's noise
# from epoch to epoch, so that a flat probe that peaked early does not keep an undertrained epoch
PROBE_TOLERANCES = {"free_f1": 0.01, "sample_distance": 0.05}
MEDIA_SUFFIXES = (".mid", ".wav", ".png")
SMOKE_FILES = 8  # files per style a SMOKE run reads at most (Experiment.smoke)


@dataclass
class DataConfig:
    """Where the segments come from and how they are cut; saved in every checkpoint."""

    source: str = "music21"       # "music21" (embedded corpus), a folder <root>/<style>/*.mid, or a zip/tar path or URL
    styles: tuple | None = None   # styles to keep; None: the corpus defaults, or every subfolder
    max_per_style: int | None = 500  # corpus only: at most this many files per style (0: all)
    steps_per_quarter: int = 4    # grid resolution
    time_signature: tuple = (4, 4)  # metre of the grid (bar lines, notes per bar, segment length)
    segment_bars: int = 4         # bars per segment
    any_metre: bool = False       # also segments whose bar lines are not time_signature's (a 3/4 tune cut into 4/4)
    transpose: int = 3            # random transposition of training segments, semitones up or down
    split_seed: int = 0           # seed of the by-piece train/valid/test split
    window: tuple | None = None   # (low, high) MIDI pitches; None: fitted to the data at the first build
    balance_styles: bool = False  # draw every style equally often in an epoch
    epoch_segments: int | None = None  # segments per epoch when balancing (None: all training segments)

    def __post_init__(self):
        if isinstance(self.styles, str):  # "bach,folk" from a form field or `papermill -p`; "" for all
            self.styles = tuple(s.strip() for s in self.styles.split(",") if s.strip()) or None
        elif self.styles is not None:
            self.styles = tuple(self.styles)
        try:
            self.time_signature = parse_time_signature(self.time_signature)  # "3/4" from a form field too
        except ValueError as err:
            raise ValueError(f"DataConfig.time_signature: {err}") from None
        if self.window is not None:
            self.window = tuple(self.window)

    def validate(self) -> "DataConfig":
        """Refuse impossible settings before anything is built, naming the field."""
        if not isinstance(self.source, (str, Path)) or not str(self.source):
            raise ValueError(f"DataConfig.source must be 'music21', a folder or an archive, got {self.source!r}")
        if self.styles is not None and (not self.styles or not all(isinstance(s, str) and s for s in self.styles)):
            raise ValueError(f"DataConfig.styles must be style names (or None for all), got {self.styles!r}")
        for name in ("max_per_style", "epoch_segments"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"DataConfig.{name} must be an integer >= 0 or None, got {value!r}")
        if not isinstance(self.any_metre, bool):
            raise ValueError(f"DataConfig.any_metre must be True or False, got {self.any_metre!r}")
        for name in ("transpose", "split_seed"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"DataConfig.{name} must be an integer >= 0, got {getattr(self, name)!r}")
        self.format((0, 127)).validate()  # resolution, metre and segment length, with any window
        if self.window is not None:
            self.format(self.window).validate()
        return self

    def format(self, window) -> GridFormat:
        """The grid format of these settings with a pitch window ``(low, high)``."""
        return GridFormat(self.steps_per_quarter, int(window[0]), int(window[1]), self.time_signature,
                          self.segment_bars)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DataConfig":
        return cls(**d)


MONITORS = tuple(PROBE_TOLERANCES)  # what may choose a VAE's best.pt (vae_train_config)


def monitored(train: TrainConfig, monitor: str) -> TrainConfig:
    """``train`` with best.pt chosen by the probe figure ``monitor`` (one of :data:`MONITORS`), at its tolerance."""
    if monitor not in PROBE_TOLERANCES:
        raise ValueError(f"TrainConfig.monitor must be one of {list(MONITORS)} for a VAE, got {monitor!r}")
    return replace(train, monitor=monitor, monitor_tolerance=PROBE_TOLERANCES[monitor])


def vae_train_config(monitor: str = "free_f1", **settings) -> TrainConfig:
    """A VAE's :class:`TrainConfig` with ``settings``: best.pt is the latest epoch whose probe figure
    (:func:`free_running_probe`) ``monitor`` is within its tolerance (:data:`PROBE_TOLERANCES`) of its best:

    - ``"free_f1"``: held-out segments reconstructed freely (the ELBO stops improving long before they do);
    - ``"sample_distance"``: samples from the prior against held-out segments, statistic by statistic (a
      decoder whose free reconstructions peak early may still be learning to write music of its style).
    """
    return monitored(TrainConfig(**settings), monitor)


@dataclass
class Experiment:
    """Everything a run is made of; :meth:`to_dict` goes into every checkpoint (see :func:`train_vae`)."""

    data: DataConfig = field(default_factory=DataConfig)
    model: VAEConfig = field(default_factory=VAEConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=vae_train_config)

    def validate(self) -> "Experiment":
        """Check every setting (each message names its field) before any data is built or step trained.

        The model's grid format comes from the data (:func:`build_model`), so
        only its architecture is checked here; ``train.epochs`` may still be
        ``None`` (chosen from the device by :meth:`for_device`).
        """
        self.data.validate()
        if self.model.n_styles and self.data.styles is not None and len(self.data.styles) < 2:
            raise ValueError(f"a style-conditioned model (VAEConfig.n_styles > 0) needs at least two styles, "
                             f"DataConfig.styles is {list(self.data.styles)}")
        replace(self.model, format=self.data.format((0, 127))).validate()
        self.loss.validate()
        replace(self.train, epochs=1 if self.train.epochs is None else self.train.epochs).validate()  # 0 refused
        known = loss_figures(bool(self.model.n_styles), bool(self.model.style_adversary), self.model.bar_plan)
        if self.train.monitor not in known:
            raise ValueError(f"TrainConfig.monitor is {self.train.monitor!r}; the VAE's figures are {list(known)}")
        return self

    def for_device(self, device, run: "RunFolder | None" = None) -> "Experiment":
        """Settle the number of epochs before anything is built.

        A run that already has a checkpoint keeps its plan: ``train.epochs=None``
        becomes the planned number, whatever the device, and another number is
        refused unless ``train.extend`` (see :func:`helpers.train.check_plan`).
        A new run with ``train.epochs=None`` gets :data:`GPU_EPOCHS` on CUDA and
        :data:`CPU_EPOCHS` elsewhere. The precision is checked against the device.
        """
        if torch.device(device).type != "cuda" or torch.cuda.is_available():
            autocast_dtype(self.train.precision, device)  # refuses bf16 on a GPU without it
        planned = planned_epochs(run.last) if run is not None else None
        if self.train.epochs is None:
            epochs = planned or (GPU_EPOCHS if torch.device(device).type == "cuda" else CPU_EPOCHS)
            return replace(self, train=replace(self.train, epochs=epochs))
        check_plan(self.train, planned, name=str(run.root) if run is not None else "this run")
        return self

    def smoke(self) -> "Experiment":
        """The same experiment, tiny: a few files, a small model, two epochs; a notebook in about a minute on a CPU."""
        return replace(
            self,
            data=replace(self.data, max_per_style=min(self.data.max_per_style or SMOKE_FILES, SMOKE_FILES),
                         epoch_segments=64 if self.data.balance_styles else self.data.epoch_segments),
            model=replace(self.model, enc_hidden=16, latent=8, dec_hidden=32, dec_input=16, style_dim=4),
            loss=replace(self.loss, beta_warmup=10),
            train=replace(self.train, batch_size=16, epochs=self.train.epochs or 2))

    def to_dict(self) -> dict:
        return {"data": self.data.to_dict(), "model": self.model.to_dict(), "loss": self.loss.to_dict(),
                "train": asdict(self.train)}

    @classmethod
    def from_dict(cls, d: dict, name: str = "spec") -> "Experiment":
        """The inverse of :meth:`to_dict`; a missing section takes its defaults, an unknown field is named."""
        unknown = set(d) - {"data", "model", "loss", "train"}
        if unknown:
            raise ValueError(f"{name}: unknown section(s) {sorted(unknown)}; a spec has data, model, loss, train")
        try:
            model = VAEConfig.from_dict(d["model"]) if "model" in d else VAEConfig()
            return cls(DataConfig.from_dict(d.get("data", {})), model, LossConfig(**d.get("loss", {})),
                       TrainConfig(**d.get("train", {})))
        except (TypeError, KeyError) as err:
            raise ValueError(f"{name}: {err}") from None

    def save(self, path) -> Path:
        """Write the spec as JSON (what ``python -m helpers.cli train`` reads)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path) -> "Experiment":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such spec file")
        try:
            d = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not JSON ({err})") from None
        return cls.from_dict(d, str(path))


# --------------------------------------------------------------------------- data

@dataclass
class Splits:
    """The segments of one experiment: three splits in one grid format.

    ``styles[k]`` names label ``k`` of every split (and of a style model);
    ``config`` is the data settings with the fitted window filled in, as
    saved in checkpoints.
    """

    pieces: data.PieceSet
    train: SegmentDataset
    valid: SegmentDataset
    test: SegmentDataset
    config: DataConfig

    @property
    def format(self) -> GridFormat:
        return self.train.format

    @property
    def styles(self) -> list:
        return list(self.pieces.styles)

    def loaders(self, batch_size: int, seed: int | None = None, rank: int = 0, world: int = 1):
        """``(train, valid)`` DataLoaders: training shuffled (balanced by style if the settings say so).

        With a ``seed`` or several processes, the training order is this
        process's share of one seeded global order (:class:`~helpers.segments.SegmentSampler`);
        every process validates on all the validation segments.
        """
        c = self.config
        train_loader = make_loader(self.train, batch_size, balance_styles=c.balance_styles,
                                   epoch_size=c.epoch_segments or None, seed=seed, rank=rank, world=world)
        return train_loader, make_loader(self.valid, batch_size, shuffle=False)

    def report(self) -> str:
        """The dataset table (pieces, splits, segments, skipped files) and the segments of each split."""
        fmt = self.format
        return (data.format_report(self.pieces, fmt.segment_steps,
                                   None if self.config.any_metre else fmt.time_signature)
                + f"\nsegments: {len(self.train)} train, {len(self.valid)} valid, {len(self.test)} test; pitches "
                f"{pitch_name(fmt.low)}..{pitch_name(fmt.high)}, {fmt.time_signature[0]}/"
                f"{fmt.time_signature[1]}, {fmt.segment_bars} bars of {fmt.steps_per_bar} steps")


def build_splits(config: DataConfig, data_dir, progress: bool = True) -> Splits:
    """Build (or load from the cache) the dataset of ``config`` and cut its three splits.

    The pitch window is ``config.window``, or else the range of every piece of
    the chosen styles, so that all splits share it; the returned
    ``Splits.config`` holds it, so the same segments come back from a
    checkpoint's settings.

    Raises
    ------
    ValueError
        A setting is impossible, a split has no segment, or the data's styles
        are not the ones the settings name.
    """
    config.validate()
    pieces = data.build(config.source, data_dir, styles=config.styles, steps_per_quarter=config.steps_per_quarter,
                        seed=config.split_seed, max_per_style=config.max_per_style, progress=progress)
    if config.styles is not None and tuple(pieces.styles) != tuple(sorted(config.styles)):
        lost = sorted(set(config.styles) - set(pieces.styles))
        raise ValueError(f"DataConfig.styles {list(config.styles)}: no readable piece of {lost} in {config.source}")
    window = config.window or pieces.pitch_range()
    resolved = replace(config, styles=tuple(pieces.styles), window=tuple(int(w) for w in window))
    fmt = resolved.format(resolved.window).validate()
    metre = {"any_metre": config.any_metre}
    splits = Splits(pieces, SegmentDataset(pieces, "train", fmt, transpose=config.transpose, **metre),
                    SegmentDataset(pieces, "valid", fmt, **metre), SegmentDataset(pieces, "test", fmt, **metre),
                    resolved)
    for name in ("train", "valid", "test"):
        if not len(getattr(splits, name)):
            named = f"{fmt.segment_bars} bars of {fmt.time_signature[0]}/{fmt.time_signature[1]}"
            count = int((pieces.split == data.SPLITS.index(name)).sum())
            one = count == 1
            hint = "more pieces, longer pieces, or a shorter DataConfig.segment_bars"
            if not config.any_metre and len(SegmentDataset(pieces, name, fmt, any_metre=True)):
                hint = (f"its {'piece is' if one else 'pieces are'} in another metre: set DataConfig.time_signature "
                        f"to {'its' if one else 'theirs'} (TIME_SIGNATURE in a notebook), or DataConfig.any_metre to "
                        f"cut {'it' if one else 'them'} into bars of {fmt.time_signature[0]}/{fmt.time_signature[1]} "
                        "anyway")
            limited = (str(config.source) == "music21" and config.max_per_style
                       and np.bincount(pieces.style).max() >= config.max_per_style)  # the limit took some files
            if limited and count < 10:  # a few files per style (SMOKE's) leave a split a piece or two
                hint += (f"; or more files: DataConfig.max_per_style is {config.max_per_style} (MAX_PER_STYLE in a "
                         f"notebook, which SMOKE lowers to {SMOKE_FILES})")
            raise ValueError(f"the {name} split of {config.source} ({count} piece{'' if one else 's'}) has "
                             f"no segment of {named}: {hint}")
    return splits


# --------------------------------------------------------------------------- run folders

CHECKPOINTS = ("best", "last")  # a run's VAE checkpoints: the epoch its monitor chose, and the latest


def check_checkpoint(which: str, name: str = "checkpoint") -> str:
    """``which`` if it names one of a run's checkpoints (:data:`CHECKPOINTS`), else a ValueError naming ``name``."""
    if which not in CHECKPOINTS:
        raise ValueError(f"{name} must be one of {list(CHECKPOINTS)}, got {which!r}")
    return which


class RunFolder:
    """The layout of a run folder, known here and nowhere else.

    ::

        last.pt, best.pt        the VAE's checkpoints (helpers.train)
        history.json|csv        one row per epoch
        spec.json               the experiment, to train it again headless (helpers.cli)
        judge/                  a style run's independent classifier (its own last.pt, best.pt)
        summary.json            what the notebook measured; written last, so it marks a finished run
        eval.json, examples.npz helpers.evaluation's figures and examples of best.pt
        eval-last.json, ...     the same of last.pt, where it was evaluated too
        loss.png, *.png         figures
        samples/, ...           MIDI, WAV and PNG files, one folder per kind
    """

    def __init__(self, root, data_dir=None):
        self.root = Path(root)
        self.data_dir = Path(data_dir) if data_dir is not None else None

    def __repr__(self) -> str:
        return f"RunFolder({str(self.root)!r})"

    @property
    def last(self) -> Path:
        return self.root / "last.pt"

    @property
    def best(self) -> Path:
        return self.root / "best.pt"

    @property
    def checkpoint(self) -> Path:
        """The VAE checkpoint to evaluate or generate from: ``best.pt`` (``vae/best.pt`` in runs of version 1)."""
        return self.checkpoint_of("best")

    def checkpoint_of(self, which: str = "best") -> Path:
        """The VAE checkpoint ``which`` (one of :data:`CHECKPOINTS`): ``best.pt``, the epoch the run's monitor
        chose, or ``last.pt``, the latest epoch trained."""
        check_checkpoint(which)
        for candidate in (self.root / f"{which}.pt", self.root / "vae" / f"{which}.pt"):
            if candidate.is_file():
                return candidate
        raise CheckpointError(f"{self.root}: no {which}.pt (is this the folder of a trained run?)")

    @property
    def history(self) -> Path:
        return self.checkpoint.parent / "history.json"

    @property
    def judge(self) -> Path:
        return self.root / "judge"

    @property
    def spec(self) -> Path:
        """The experiment as JSON, written when training starts (``python -m helpers.cli train`` reads it)."""
        return self.root / "spec.json"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def eval(self) -> Path:
        return self.eval_of("best")

    @property
    def examples(self) -> Path:
        return self.examples_of("best")

    def eval_of(self, which: str = "best") -> Path:
        """helpers.evaluation's figures of the checkpoint ``which``: ``eval.json`` (best), ``eval-last.json``."""
        return self._of_checkpoint("eval", ".json", which)

    def examples_of(self, which: str = "best") -> Path:
        return self._of_checkpoint("examples", ".npz", which)

    def _of_checkpoint(self, stem: str, suffix: str, which: str) -> Path:
        """``stem`` + ``suffix`` for best.pt, ``stem-which`` + ``suffix`` for another checkpoint."""
        return self.root / (stem + ("" if check_checkpoint(which) == "best" else f"-{which}") + suffix)

    def figure(self, name: str) -> Path:
        return self.root / f"{name}.png"

    def outputs(self, kind: str) -> Path:
        """The folder of one kind of output (``samples``, ``transfer``, ...)."""
        return self.root / kind

    def media(self) -> list[Path]:
        """The run's MIDI, audio and pictures (what a user downloads), sorted."""
        return sorted(f for f in self.root.rglob("*") if f.is_file() and f.suffix in MEDIA_SUFFIXES)

    def write_summary(self, summary: dict) -> Path:
        self.summary.write_text(json.dumps(summary, indent=1, default=float))
        return self.summary

    @property
    def finished(self) -> bool:
        return self.summary.is_file()


def open_run(name: str, data_dir=None, runs_dir=None, use_drive: bool = True) -> RunFolder:
    """The run folder ``name`` under ``runs_dir`` and its data folder (both on Drive in Colab by default)."""
    data_dir, root = colab.run_folders(name, data_dir, runs_dir, use_drive)
    return RunFolder(root, data_dir)


# --------------------------------------------------------------------------- models and training

def build_model(spec: Experiment, splits: Splits, seed: int | None = None) -> GridVAE:
    """The experiment's VAE in the data's grid format.

    ``spec.model.n_styles > 0`` asks for a style-conditioned model; it gets one
    style per style of the data.
    """
    n_styles = len(splits.styles) if spec.model.n_styles else 0
    if n_styles == 1:
        raise ValueError(f"a style-conditioned model needs at least two styles, the data has {splits.styles}")
    torch.manual_seed(spec.train.seed if seed is None else seed)
    return GridVAE(replace(spec.model, format=splits.format, n_styles=n_styles))


def train_vae(model: GridVAE, spec: Experiment, splits: Splits, run: RunFolder, device=None, callback=None,
              progress: bool = True, seeded_order: bool = False) -> list:
    """Train (or resume) ``model`` in ``run``; every checkpoint carries the whole experiment.

    The model ends with the weights of ``best.pt`` (the epoch ``spec.train.monitor`` chose), the ones the
    evaluation and a shipped model's card speak of.

    Under ``torchrun`` (or with ``seeded_order``) each process trains on its
    share of one global order seeded by ``spec.train.seed``, with
    ``spec.train.batch_size`` segments per process and step.
    """
    if spec.train.epochs is None:
        raise ValueError("TrainConfig.epochs is None: call Experiment.for_device(device) first")
    rank, world = process_group()
    seed = spec.train.seed if seeded_order or world > 1 else None
    train_loader, valid_loader = splits.loaders(spec.train.batch_size, seed, rank, world)
    if rank == 0:
        replace(spec, data=splits.config).save(run.spec)
    extra = {"data": splits.config.to_dict(), "loss": spec.loss.to_dict()}
    history = train(model, make_step(spec.loss), train_loader, valid_loader, spec.train, run.root,
                    callback=callback, device=device, extra=extra, progress=progress,
                    probe=free_running_probe(splits))
    model.load_state_dict(load_checkpoint(run.best, map_location=next(model.parameters()).device)["model"])
    return history


def free_running_probe(splits: Splits, n: int = PROBE_SEGMENTS, seed: int = 0, samples: int = PROBE_SAMPLES):
    """``probe(model, epoch, epochs) -> {"free_f1": ..., "sample_distance": ...}``, measured after epochs
    (:func:`helpers.train.train`): every epoch of a plan of up to :data:`PROBES` epochs, else about
    :data:`PROBES` times, always after the last. Either figure may choose best.pt (:func:`vae_train_config`).

    - ``free_f1``: the frame F1 of ``n`` fixed validation segments encoded and decoded freely, at the best
      of :data:`PROBE_THRESHOLDS` (as the evaluation chooses its threshold). Teacher-forced figures (the
      ELBO) can stop improving while free-running reconstructions still do. A cautious decoder (the seed
      decoder's notes stay below 0.5 for many epochs) would score nothing at one threshold of 0.5 however
      much it learns, and keep its first epoch as the best.
    - ``sample_distance``: ``samples`` seeded draws from the prior per style (the same codes every time),
      against up to :data:`PROBE_REAL` validation segments of the style (for a model without styles, up to
      :data:`PROBE_REAL` of all of them, its styles in their own proportions, as
      :func:`helpers.evaluation.choose_drawing` and the evaluation's test segments have them): the distance
      of every statistic of :mod:`helpers.musicstats` in standard deviations of up to :data:`PROBE_REAL` of
      the style's training segments (a few validation pieces can spread far less than their style does;
      :func:`helpers.evaluation.unit_statistics`), as :func:`helpers.evaluation.choose_drawing` measures samples,
      averaged over the statistics and the styles. Lower is better.
    """
    from . import generate, metrics, musicstats

    rng = np.random.default_rng(seed)
    picks = rng.permutation(len(splits.valid))[:n]
    grids, styles = splits.valid.grids(picks), splits.valid.style[picks]
    # style (None: every style together, for a model without styles) -> the validation segments its samples
    # are compared with, read when first needed
    groups = {int(k): np.sort(rng.permutation(np.flatnonzero(splits.valid.style == k))[:PROBE_REAL])
              for k in np.unique(splits.valid.style)}
    groups[None] = (next(iter(groups.values())) if len(groups) == 1
                    else np.sort(rng.permutation(len(splits.valid))[:PROBE_REAL]))
    real, unit = {}, {}  # their statistics, and those of the training segments that give the unit, computed once

    def sample_distance(model) -> float:
        from .evaluation import sample_distance, unit_statistics  # the evaluation's measure (it imports this module)

        chosen = [k for k in groups if k is not None] if model.config.n_styles else [None]
        for k in chosen:
            if k not in real:
                real[k] = musicstats.statistics(splits.valid.grids(groups[k]), model.config.format)
        if any(k not in unit for k in chosen):  # keyed as real is: by style, or None for a model without styles
            unit.update(unit_statistics(model, splits.train, PROBE_REAL, seed))
        return sample_distance(model, {k: real[k] for k in chosen}, samples, seed, unit=unit)

    def probe(model, epoch, epochs):
        if epoch % max(1, -(-epochs // PROBES)) and epoch < epochs:
            return {}
        style = styles if model.config.n_styles else None
        codes = generate.encode(model, grids, style)
        decoded = generate.decode_thresholds(model, codes, style, PROBE_THRESHOLDS)
        return {"free_f1": max(metrics.frame_scores(grids, d, model.config.format)["f1"] for d in decoded),
                "sample_distance": sample_distance(model)}

    return probe


JUDGE_EPOCHS = 20  # epochs of the independent style classifier (bench/results/judge.json measures it)
JUDGES = 3  # judges trained from successive seeds, judging together (bench/results/judge.json: one varies by seed)


def check_judge(epochs, members) -> None:
    """Refuse the judge's settings (the style notebook's ``JUDGE_EPOCHS`` and ``JUDGES``) before anything trains."""
    from .generate import check_count

    check_count(epochs, "JUDGE_EPOCHS")
    check_count(members, "JUDGES")


JUDGE_MEMBERS = "members.json"  # in judge/: how many judges train_judge last trained, load_judge loads


def judge_folders(run: RunFolder, members: int) -> list:
    """Where each of a run's ``members`` judges lives: the first in ``judge/``, member k in ``judge/member-k/``."""
    return [run.judge if k == 0 else run.judge / f"member-{k}" for k in range(members)]


def train_judge(splits: Splits, run: RunFolder, epochs: int = JUDGE_EPOCHS, batch_size: int = 64,
                epoch_segments=None, seed: int = 0, device=None, layers: int | None = None,
                channels: int | None = None, members: int = JUDGES):
    """Train (or resume) the independent style classifier on real training segments only, style-balanced.

    ``layers`` and ``channels`` change the judge's architecture
    (:class:`helpers.metrics.ClassifierConfig`'s defaults otherwise). A run
    folder whose judge was begun with another architecture (an earlier
    version's) goes on with that architecture, so its judge stays the one its
    figures came from. ``members`` > 1 trains that many judges alike, from
    seeds ``seed``, ``seed + 1``, ... (:func:`judge_folders`), and returns
    them as one :class:`helpers.metrics.JudgeEnsemble`: a judge trained on a
    few pieces per style varies with its seed (``bench/results/judge.json``).
    Each returns with the weights of its ``best.pt``, its last epoch, as
    :func:`load_judge` and a shipped model give them back.
    """
    from .metrics import ClassifierConfig, StyleClassifier, classifier_step

    check_judge(epochs, members)
    shape = {k: v for k, v in (("layers", layers), ("channels", channels)) if v is not None}
    config = ClassifierConfig(n_pitches=splits.format.n_pitches, n_styles=len(splits.styles), **shape)
    if (run.judge / "last.pt").is_file():  # every member takes the first's architecture
        config = ClassifierConfig.from_dict(load_checkpoint(run.judge / "last.pt")["model_config"])
    for k, folder in enumerate(judge_folders(run, members)):
        torch.manual_seed(seed + k)
        judge = StyleClassifier(config)
        train_loader = make_loader(splits.train, batch_size, balance_styles=True, epoch_size=epoch_segments)
        # best.pt is the last epoch (an accuracy is always within 1 of the best). Kept by validation loss it was an
        # early, weaker judge (a confident classifier's loss rises on a few held-out pieces while its accuracy
        # still improves); kept by validation accuracy, measured on the few pieces of a close style that
        # validation holds, it did worse on the held-out pieces than the last epoch (bench/results/judge.json)
        train(judge, classifier_step, train_loader, make_loader(splits.valid, batch_size, shuffle=False),
              TrainConfig(epochs=epochs, batch_size=batch_size, seed=seed + k, monitor="acc",
                          monitor_tolerance=1.0), folder, device=device, progress=False)
    # how many judges the run has now (JUDGES lowered after more were trained leaves their folders behind)
    (run.judge / JUDGE_MEMBERS).write_text(json.dumps({"members": members}) + "\n")
    return _load_judges(judge_folders(run, members), device or "cpu")


def load_judge(run: RunFolder, map_location="cpu"):
    """A style run's independent classifier (its members, as one ensemble), or ``None`` when it has none: as many
    members as :func:`train_judge` last trained (every member folder, in a run from before it said)."""
    if not (run.judge / "best.pt").is_file():
        return None
    if (run.judge / JUDGE_MEMBERS).is_file():
        members = json.loads((run.judge / JUDGE_MEMBERS).read_text())["members"]
    else:
        members = 1
        while (judge_folders(run, members + 1)[-1] / "best.pt").is_file():
            members += 1
    return _load_judges(judge_folders(run, members), map_location)


def _load_judges(folders, map_location):
    """The judges' ``best.pt`` weights in ``folders``: one judge, or a :class:`helpers.metrics.JudgeEnsemble`."""
    from .metrics import judge_from_payloads

    return judge_from_payloads([load_checkpoint(folder / "best.pt", map_location) for folder in folders],
                               map_location)


def spec_from_checkpoint(payload: dict, name: str = "checkpoint") -> Experiment:
    """The :class:`Experiment` a checkpoint was trained with (also from a version-1 checkpoint).

    Version 1 kept the data settings in an untyped ``extra`` (``styles``,
    ``data: {source, max_per_style, transpose}``, ``loss_config``) and the
    grid in loose model fields; both are read into the typed configs. A
    checkpoint saved before ``DataConfig.any_metre`` existed cut its segments
    at every downbeat whatever the metre, and rebuilds them so (``any_metre``).
    """
    try:
        model = VAEConfig.from_dict(payload["model_config"])
        train_fields = {f.name for f in fields(TrainConfig)}
        train_config = TrainConfig(**{k: v for k, v in payload["train_config"].items() if k in train_fields})
        extra = payload.get("extra") or {}
        if "data" in extra and "loss" in extra:
            # saved before DataConfig.any_metre existed: its segments were cut at every downbeat, whatever the metre
            data_config = DataConfig.from_dict({"any_metre": True, **extra["data"]})
            return Experiment(data_config, model, LossConfig(**extra["loss"]), train_config)
        old = extra.get("data", {})
        fmt = model.format
        data_config = DataConfig(source=old.get("source", "music21"), styles=extra.get("styles"),
                                 max_per_style=old.get("max_per_style"), steps_per_quarter=fmt.steps_per_quarter,
                                 time_signature=fmt.time_signature, segment_bars=fmt.segment_bars,
                                 transpose=old.get("transpose", 0), window=fmt.window, any_metre=True)
        return Experiment(data_config, model, LossConfig(**(extra.get("loss_config") or {})), train_config)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{name}: its settings cannot be read ({type(err).__name__}: {err})") from None


def load_run(path, map_location="cpu"):
    """Rebuild a trained model from a run folder or a checkpoint file.

    Returns
    -------
    model : GridVAE
        In eval mode, on ``map_location``.
    spec : Experiment
        What it was trained with; ``build_splits(spec.data, data_dir)`` gives its data back.
    payload : dict
        The whole checkpoint (epoch, history, ...).
    """
    path = Path(path)
    checkpoint = RunFolder(path).checkpoint if path.is_dir() else path
    payload = load_checkpoint(checkpoint, map_location)
    spec = spec_from_checkpoint(payload, str(checkpoint))
    model = GridVAE(spec.model)
    model.load_state_dict(payload["model"])
    return model.to(map_location).eval(), spec, payload


def assert_same_styles(splits: Splits, spec: Experiment, name: str) -> None:
    """Refuse data with another number of styles than the model's labels.

    :func:`build_splits` already refuses data whose styles are not the ones
    the settings name; this catches settings that name none (every style).
    """
    if spec.model.n_styles and len(splits.styles) != spec.model.n_styles:
        raise CheckpointError(f"{name}: a model of {spec.model.n_styles} styles, but the data has "
                              f"{splits.styles}")


def epochs_text(history: list, run: RunFolder | None = None, monitor: str | None = None) -> str:
    """The last epoch's validation figures, in one line; with ``run``, also the epoch of its ``best.pt`` (the
    weights a notebook goes on with) and its figure ``monitor``."""
    last = history[-1]
    text = (f"epoch {last['epoch']}: valid ELBO {last['valid_elbo']:.1f} nats/segment "
            f"(reconstruction {last['valid_recon']:.1f}, KL {last['valid_kl']:.1f})")
    if run is None or not run.best.is_file():
        return text
    epoch = load_checkpoint(run.best, mmap=True)["epoch"]
    figure = history[epoch - 1].get(f"valid_{monitor}") if monitor and 0 < epoch <= len(history) else None
    return text + f"; best.pt: epoch {epoch}" + (f" ({monitor} {figure:.3f})" if figure is not None else "")
