"""Judging what the VAE makes: reconstruction scores, and an independent style classifier.

The classifier is not part of the VAE: a small convolutional network over the
steps of a real grid, trained only on real training segments, tested on real
held-out segments. It then scores what the VAE makes: samples generated "in
style s", pieces moved to a new style, and interpolations between styles.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class ClassifierConfig:
    """Architecture of a :class:`StyleClassifier`; saved in its checkpoints."""

    n_pitches: int = 88     # P
    n_styles: int = 3       # classes
    channels: int = 96      # convolution channels
    kernel: int = 5         # steps seen by one convolution
    dropout: float = 0.2

    def validate(self) -> "ClassifierConfig":
        for name in ("n_pitches", "n_styles", "channels", "kernel"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"ClassifierConfig.{name} must be a positive integer, got {getattr(self, name)!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"ClassifierConfig.dropout must be in [0, 1), got {self.dropout!r}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


class StyleClassifier(nn.Module):
    """Grids ``(B, T, 2, P)`` -> style logits ``(B, n_styles)``.

    Two dilated 1-D convolutions over the steps (pitches and planes as
    channels), then the mean and the maximum over time, then a dense layer.
    """

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = c = config.validate()
        pad = c.kernel // 2
        self.conv1 = nn.Conv1d(2 * c.n_pitches, c.channels, c.kernel, padding=pad)
        self.conv2 = nn.Conv1d(c.channels, c.channels, c.kernel, padding=2 * pad, dilation=2)
        self.dropout = nn.Dropout(c.dropout)
        self.out = nn.Linear(2 * c.channels, c.n_styles)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(2).transpose(1, 2)  # (B, 2P, T): features as channels, time as length
        h = F.relu(self.conv2(F.relu(self.conv1(h))))  # (B, C, T)
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)  # (B, 2C)
        return self.out(self.dropout(pooled))


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


def per_style_accuracy(probs: np.ndarray, labels, names) -> dict:
    """Share of each style's items classified as that style, and the overall share."""
    labels = np.asarray(labels)
    guess = probs.argmax(1)
    result = {name: float((guess[labels == k] == k).mean()) if (labels == k).any() else None
              for k, name in enumerate(names)}
    result["all"] = float((guess == labels).mean()) if len(labels) else None
    return result


def frame_f1(real, decoded) -> float:
    """F1 of the sounding cells (frame plane) of decoded grids against real ones, both ``(N, T, 2, P)``."""
    real, decoded = np.asarray(real, bool)[:, :, 0], np.asarray(decoded, bool)[:, :, 0]
    return float(2 * (real & decoded).sum() / max(1, real.sum() + decoded.sum()))
