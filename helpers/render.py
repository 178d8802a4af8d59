"""Show and save grids: piano-roll figures, audio, MIDI/WAV/PNG files, Colab downloads.

Audio uses FluidSynth (through ``pretty_midi`` and ``pyfluidsynth``, with the
General MIDI soundfont that ``pretty_midi`` ships) when it is installed, and a
plain sine synthesiser otherwise, so audio always plays.
"""
from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np

from .pianoroll import FRAME, ONSET, GridFormat, grid_to_midi

SAMPLE_RATE = 22050
NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def pitch_name(pitch: int) -> str:
    """``60 -> "C4"``."""
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def plot_grids(grids, fmt: GridFormat, titles=None, line_every: int | None = None, ax_height: float = 2.2):
    """A figure with one piano-roll per grid.

    Parameters
    ----------
    grids : sequence of np.ndarray
        Each ``(T, 2, P)``; frames in light colour, onsets dark.
    fmt : GridFormat
        The grids' format: pitch names from its window, bar lines from its metre.
    titles : sequence of str, optional
    line_every : int, optional
        Steps between vertical lines; default one bar (``fmt.steps_per_bar``).
        ``fmt.segment_steps`` marks the segments of a concatenated piece.
    """
    low, line_every = fmt.low, line_every or fmt.steps_per_bar
    import matplotlib.pyplot as plt

    grids = [np.asarray(g) for g in grids]
    fig, axes = plt.subplots(len(grids), 1, figsize=(10, ax_height * len(grids)), squeeze=False)
    for k, (grid, ax) in enumerate(zip(grids, axes[:, 0])):
        image = grid[:, FRAME].T.astype(float) * 0.45 + grid[:, ONSET].T.astype(float) * 0.55  # (P, T)
        n_steps, n_pitches = grid.shape[0], grid.shape[2]
        ax.imshow(image, origin="lower", aspect="auto", cmap="Blues", vmin=0, vmax=1, interpolation="nearest",
                  extent=(-0.5, n_steps - 0.5, low - 0.5, low + n_pitches - 0.5))
        for bar in range(0, n_steps + 1, line_every):
            ax.axvline(bar - 0.5, color="0.6", lw=0.6)
        cs = [p for p in range(low, low + n_pitches) if p % 12 == 0]
        ax.set_yticks(cs, [pitch_name(p) for p in cs])
        ax.set_xlabel("step")
        if titles is not None:
            ax.set_title(titles[k], fontsize=10)
    fig.tight_layout()
    return fig


def synthesize(midi, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, str]:
    """Audio of a ``pretty_midi.PrettyMIDI``: ``(samples in [-1, 1], backend name)``.

    FluidSynth when ``pyfluidsynth`` and the FluidSynth library are present,
    else ``pretty_midi``'s sine synthesiser.
    """
    try:
        audio, backend = midi.fluidsynth(fs=sample_rate), "fluidsynth"
    except Exception:  # ImportError without pyfluidsynth, OSError without the library
        audio, backend = midi.synthesize(fs=sample_rate), "sine"
    if audio.size == 0:  # a grid without notes: a tenth of a second of silence, still playable
        audio = np.zeros(sample_rate // 10)
    peak = np.abs(audio).max()
    return (audio / peak * 0.9 if peak > 0 else audio).astype(np.float32), backend


def write_wav(path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """16-bit mono WAV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def save_piece(grid, folder, name: str, fmt: GridFormat, qpm: float = 100.0, audio: bool = True,
               title: str | None = None) -> dict:
    """Write ``<name>.mid``, ``<name>.png`` and (optionally) ``<name>.wav`` for one grid.

    Returns the paths and, with ``audio``, the samples (for inline playback).
    """
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    midi = grid_to_midi(grid, fmt, qpm=qpm)
    out = {"midi": folder / f"{name}.mid"}
    midi.write(str(out["midi"]))
    fig = plot_grids([grid], fmt, [title or name])
    out["png"] = folder / f"{name}.png"
    fig.savefig(out["png"], dpi=100)
    plt.close(fig)
    if audio:
        out["audio"], out["backend"] = synthesize(midi)
        out["wav"] = write_wav(folder / f"{name}.wav", out["audio"])
    return out


def play(audio: np.ndarray, sample_rate: int = SAMPLE_RATE):
    """An inline audio player (IPython)."""
    from IPython.display import Audio

    return Audio(audio, rate=sample_rate, normalize=False)


def download(paths, zip_as=None) -> None:
    """In Colab, send files to the browser (as one zip with ``zip_as``); elsewhere say where they are."""
    import zipfile

    from .colab import in_colab

    paths = [Path(p) for p in paths]
    if not in_colab():
        where = os.path.commonpath([str(p.parent) for p in paths]) if paths else "-"
        print(f"{len(paths)} file(s) ready under {where}")
        return
    from google.colab import files

    if zip_as is not None:
        zip_as = Path(zip_as)
        base = zip_as.parent
        with zipfile.ZipFile(zip_as, "w") as z:
            for p in paths:
                z.write(p, p.relative_to(base) if p.is_relative_to(base) else p.name)
        paths = [zip_as]
    for p in paths:
        files.download(str(p))


def plot_latent_map(mu, labels, names, title: str = "latent space (PCA)"):
    """A 2-D PCA projection of latent vectors ``mu`` (N, latent), coloured by style."""
    import matplotlib.pyplot as plt

    mu = np.asarray(mu, dtype=float)
    centred = mu - mu.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T  # (N, 2)
    labels = np.asarray(labels)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for k, name in enumerate(names):
        ax.scatter(*xy[labels == k].T, s=6, alpha=0.6, label=name)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, markerscale=2)
    fig.tight_layout()
    return fig


class LiveLoss:
    """A training callback that redraws the loss curves in a notebook after every epoch.

    ``LiveLoss(["elbo", "recon", "kl"])(history)`` plots ``train_<figure>`` and
    ``valid_<figure>`` for each figure, one panel each; the last figure stays
    in ``self.figure`` (to save it at the end).
    """

    def __init__(self, figures=("elbo", "recon", "kl"), show: bool = True):
        self.figures, self.show, self.figure, self.handle = list(figures), show, None, None

    def draw(self, history):
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(self.figures), figsize=(4 * len(self.figures), 3), squeeze=False)
        epochs = [row["epoch"] for row in history]
        for name, ax in zip(self.figures, axes[0]):
            for split in ("train", "valid"):
                values = [row.get(f"{split}_{name}") for row in history]
                if any(v is not None for v in values):
                    ax.plot(epochs, values, marker=".", label=split)
            ax.set_title(name, fontsize=10)
            ax.set_xlabel("epoch")
            ax.legend(fontsize=8)
        fig.tight_layout()
        plt.close(fig)
        self.figure = fig
        return fig

    def __call__(self, history):
        fig = self.draw(history)
        if self.show:
            from IPython.display import display

            # One display updated in place: the cell's other output (e.g. "resuming ...") stays.
            if self.handle is None:
                self.handle = display(fig, display_id=True)
            else:
                self.handle.update(fig)
