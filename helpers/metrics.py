"""Judging what the VAE makes: reconstruction scores, and an independent style classifier.

Reconstruction scores come from ``mir_eval``, the reference implementation of
the transcription metrics that polyphonic music models are compared on:
frame-level precision, recall and accuracy (Bay et al., 2009: the "accuracy"
of the JSB Chorales / Nottingham benchmarks) from ``mir_eval.multipitch``, and
note-level matching from ``mir_eval.transcription``. Grids become seconds at a
fixed tempo (``QPM``), at which one step (125 ms at 4 steps per quarter) is
wider than the 50 ms onset tolerance, so an onset matches only on its own step.

The classifier is not part of the VAE: a small convolutional network over the
steps of a real grid, trained only on real training segments, tested on real
held-out segments. It then scores what the VAE makes: samples generated "in
style s", pieces moved to a new style, and interpolations between styles.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import warnings

import mir_eval
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .pianoroll import DEFAULT_FORMAT, FRAME, GridFormat, grid_to_notes

QPM = 120.0  # tempo at which grids become seconds for mir_eval: one step of 4 per quarter = 125 ms


@dataclass
class ClassifierConfig:
    """Architecture of a :class:`StyleClassifier`; saved in its checkpoints."""

    n_pitches: int = 88     # P
    n_styles: int = 3       # classes
    channels: int = 128     # convolution channels
    kernel: int = 5         # steps seen by one convolution
    dropout: float = 0.2
    layers: int = 4         # convolutions; layer i is dilated 2^i, so 4 layers of kernel 5 see 61 steps

    def validate(self) -> "ClassifierConfig":
        for name in ("n_pitches", "n_styles", "channels", "kernel", "layers"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"ClassifierConfig.{name} must be a positive integer, got {getattr(self, name)!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"ClassifierConfig.dropout must be in [0, 1), got {self.dropout!r}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ClassifierConfig":
        """The config saved with a judge; one saved before ``layers`` existed had 2 convolutions."""
        return cls(**{"layers": 2, **d})


class StyleClassifier(nn.Module):
    """Grids ``(B, T, 2, P)`` -> style logits ``(B, n_styles)``.

    1-D convolutions over the steps (pitches and planes as channels), each
    dilated twice as much as the one before, so the last ones hear whole
    phrases; then the mean and the maximum over time, then a dense layer.
    """

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = c = config.validate()
        pad = c.kernel // 2
        self.conv1 = nn.Conv1d(2 * c.n_pitches, c.channels, c.kernel, padding=pad)
        self.conv2 = nn.Conv1d(c.channels, c.channels, c.kernel, padding=2 * pad, dilation=2) if c.layers > 1 else None
        self.deeper = nn.ModuleList(nn.Conv1d(c.channels, c.channels, c.kernel, padding=pad * 2 ** i, dilation=2 ** i)
                                    for i in range(2, c.layers))
        self.dropout = nn.Dropout(c.dropout)
        self.out = nn.Linear(2 * c.channels, c.n_styles)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(2).transpose(1, 2)  # (B, 2P, T): features as channels, time as length
        for conv in [self.conv1, self.conv2, *self.deeper]:
            if conv is not None:
                h = F.relu(conv(h))  # (B, C, T)
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)  # (B, 2C)
        return self.out(self.dropout(pooled))


class JudgeEnsemble(nn.Module):
    """Judges trained alike from different seeds, judging together by their mean probabilities.

    Its logits are the log of the members' mean probability, so a softmax of
    them (as :func:`predict` takes) gives that mean. A judge trained on a few
    pieces per style varies with its seed; the mean of several varies less.
    """

    def __init__(self, members):
        super().__init__()
        if not members:
            raise ValueError("JudgeEnsemble needs at least one judge")
        self.members = nn.ModuleList(members)
        self.config = members[0].config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([torch.softmax(m(x).float(), 1) for m in self.members]).mean(0)
        return probs.clamp_min(torch.finfo(probs.dtype).tiny).log()


def judge_from_payloads(payloads, map_location="cpu"):
    """Judges from their saved ``{"model": weights, "model_config": ...}`` (a checkpoint, or a shipped model's
    entry): one :class:`StyleClassifier`, or several as one :class:`JudgeEnsemble`, in eval mode."""
    judges = []
    for payload in payloads:
        judge = StyleClassifier(ClassifierConfig.from_dict(payload["model_config"]))
        judge.load_state_dict(payload["model"])
        judges.append(judge)
    return (judges[0] if len(judges) == 1 else JudgeEnsemble(judges)).to(map_location).eval()


def classifier_step(model, batch, step):
    """``step_fn`` for :func:`helpers.train.train`: cross-entropy and accuracy of a ``(grids, styles)`` batch."""
    x, style = batch
    logits = model(x)
    return {"loss": F.cross_entropy(logits.float(), style), "acc": (logits.argmax(1) == style).float().mean()}


@torch.no_grad()
def predict(model, grids, batch_size: int = 256) -> np.ndarray:
    """Style probabilities ``(N, n_styles)`` of grids ``(N, T, 2, P)``."""
    model.eval()
    device = next(model.parameters()).device
    grids = np.asarray(grids)
    out = [torch.softmax(model(torch.as_tensor(grids[i:i + batch_size], dtype=torch.float32, device=device)), 1)
           for i in range(0, len(grids), batch_size)]
    return torch.cat(out).cpu().numpy() if out else np.zeros((0, model.config.n_styles))


def recognised(model, grids, style: int) -> float:
    """Share of grids ``(N, T, 2, P)`` that ``model`` calls ``style`` (its most probable class)."""
    return float((predict(model, grids).argmax(1) == style).mean()) if len(grids) else float("nan")


def closest_style(model, grids) -> int:
    """The style ``model`` finds the segments ``(N, T, 2, P)`` of one piece closest to, by their mean probability."""
    if not len(grids):
        raise ValueError("closest_style needs at least one segment")
    return int(predict(model, grids).mean(0).argmax())


def per_style_accuracy(probs: np.ndarray, labels, names) -> dict:
    """Share of each style's items classified as that style, and the overall share."""
    labels = np.asarray(labels)
    guess = probs.argmax(1)
    result = {name: float((guess[labels == k] == k).mean()) if (labels == k).any() else None
              for k, name in enumerate(names)}
    result["all"] = float((guess == labels).mean()) if len(labels) else None
    return result


def _f1(precision: float, recall: float) -> float:
    return float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0


def frame_scores(real, decoded, fmt: GridFormat = DEFAULT_FORMAT) -> dict:
    """Frame-level scores of decoded grids against real ones, both ``(N, T, 2, P)``.

    All segments are laid end to end and scored as one sequence of frames by
    ``mir_eval.multipitch`` (micro-averaged): ``precision`` TP/(TP+FP),
    ``recall`` TP/(TP+FN), ``f1``, and ``accuracy`` TP/(TP+FP+FN). A test set
    longer than ``mir_eval`` accepts in one sequence is scored in pieces of
    whole segments whose counts are summed.
    """
    real, decoded = np.asarray(real) != 0, np.asarray(decoded) != 0
    if real.shape != decoded.shape or real.ndim != 4:
        raise ValueError(f"need two (N, T, 2, P) arrays of one shape, got {real.shape} and {decoded.shape}")
    hz = mir_eval.util.midi_to_hz(np.arange(fmt.low, fmt.low + real.shape[-1]))
    step = 60.0 / (QPM * fmt.steps_per_quarter)

    def frequencies(grids):
        frames = grids[:, :, FRAME].reshape(-1, grids.shape[-1])
        return [hz[np.flatnonzero(f)] for f in frames]

    per_piece = max(1, int(mir_eval.multipitch.MAX_TIME / (step * real.shape[1])) - 1)  # segments
    true_positives = n_est = n_ref = 0
    for start in range(0, len(real), per_piece):
        ref, est = real[start:start + per_piece], decoded[start:start + per_piece]
        times = np.arange(ref.shape[0] * ref.shape[1]) * step
        with warnings.catch_warnings():  # mir_eval warns about empty references/estimates; zeros are right then
            warnings.simplefilter("ignore")
            precision, recall = mir_eval.multipitch.metrics(times, frequencies(ref), times, frequencies(est))[:2]
        piece_est, piece_ref = int(est[:, :, FRAME].sum()), int(ref[:, :, FRAME].sum())
        true_positives += round(precision * piece_est) if piece_est else round(recall * piece_ref)
        n_est, n_ref = n_est + piece_est, n_ref + piece_ref
    precision = true_positives / n_est if n_est else 0.0
    recall = true_positives / n_ref if n_ref else 0.0
    union = n_est + n_ref - true_positives
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall),
            "accuracy": true_positives / union if union else 0.0}


def chroma_f1(a, b, fmt: GridFormat = DEFAULT_FORMAT) -> np.ndarray:
    """Per pair of grids ``(N, T, 2, P)``, the F1 of the pitch classes sounding at each step of ``b`` against
    those of ``a`` (octaves folded): how much of a segment's harmony and rhythm another keeps, whatever its
    register and voicing. NaN for a pair where neither sounds."""
    a, b = np.asarray(a) != 0, np.asarray(b) != 0
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"need two (N, T, 2, P) arrays of one shape, got {a.shape} and {b.shape}")
    classes = (fmt.low + np.arange(a.shape[-1])) % 12
    fold = np.zeros((a.shape[-1], 12), bool)
    fold[np.arange(a.shape[-1]), classes] = True

    def chroma(grids):  # (N, T, 12): a pitch class sounds where any of its pitches does
        return (grids[:, :, FRAME].astype(np.float32) @ fold.astype(np.float32)) > 0

    ca, cb = chroma(a), chroma(b)
    both = (ca & cb).sum((1, 2))
    total = ca.sum((1, 2)) + cb.sum((1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2 * both / total, np.nan)


def _intervals(grid, fmt: GridFormat):
    notes = grid_to_notes(grid, fmt)
    step = 60.0 / (QPM * fmt.steps_per_quarter)
    return notes[:, 1:].astype(float) * step, mir_eval.util.midi_to_hz(notes[:, 0].astype(float))


def note_scores(real, decoded, fmt: GridFormat = DEFAULT_FORMAT, offsets: bool = False) -> dict:
    """Note-level scores of decoded grids against real ones, both ``(N, T, 2, P)``.

    Notes are read from each grid (:func:`helpers.pianoroll.grid_to_notes`)
    and matched one to one by ``mir_eval.transcription.match_notes``: same
    pitch, same onset step, and with ``offsets`` an end within 20% of the real
    note's length (at least 50 ms). Counts are summed over segments before the
    ``precision``, ``recall`` and ``f1`` are taken.
    """
    real, decoded = np.asarray(real), np.asarray(decoded)
    if real.shape != decoded.shape or real.ndim != 4:
        raise ValueError(f"need two (N, T, 2, P) arrays of one shape, got {real.shape} and {decoded.shape}")
    matched = n_real = n_decoded = 0
    for ref, est in zip(real, decoded):
        ref_i, ref_p = _intervals(ref, fmt)
        est_i, est_p = _intervals(est, fmt)
        n_real, n_decoded = n_real + len(ref_p), n_decoded + len(est_p)
        if len(ref_p) and len(est_p):
            matched += len(mir_eval.transcription.match_notes(ref_i, ref_p, est_i, est_p,
                                                              offset_ratio=0.2 if offsets else None))
    precision = matched / n_decoded if n_decoded else 0.0
    recall = matched / n_real if n_real else 0.0
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall)}


def reconstruction_scores(real, decoded, fmt: GridFormat = DEFAULT_FORMAT) -> dict:
    """Every reconstruction score, flat: ``frame_precision``, ``frame_recall``, ``frame_f1``,
    ``frame_accuracy``, ``onset_precision``, ``onset_recall``, ``onset_f1`` (notes matched on
    pitch and onset) and ``note_f1`` (pitch, onset and offset)."""
    scores = {f"frame_{k}": v for k, v in frame_scores(real, decoded, fmt).items()}
    scores.update({f"onset_{k}": v for k, v in note_scores(real, decoded, fmt).items()})
    scores["note_f1"] = note_scores(real, decoded, fmt, offsets=True)["f1"]
    return scores
