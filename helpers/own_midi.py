"""Your own MIDI files: found (or uploaded in Colab), checked like any dataset file, cut into a model's segments.

A file is read exactly as a dataset file is (:func:`helpers.pianoroll.read_midi`),
so one that cannot be used is left out with the same kind of reason, and the
others go on. Each usable file gives up to ``max_segments`` consecutive
segments of the model's format, from its first bar line with notes after it,
so that joined (:func:`helpers.generate.concatenate`) they are the piece; what
is left after the last whole segment is left out. A piece shorter than a
segment is padded with silence; a piece that lies outside the model's pitch
window is moved by whole octaves to fit it (the shift is reported).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import MIDI_SUFFIXES
from .pianoroll import GridFormat, MidiError, notes_to_grid, read_midi

UPLOAD = "upload"  # the MY_MIDI value that opens Colab's upload dialog
MAX_SEGMENTS = 8  # segments of a file used by default: 32 bars of 4/4 at four bars a segment


@dataclass
class OwnPiece:
    """One usable file: its segments in the model's format and what was changed to fit."""

    name: str
    grids: np.ndarray      # (S, T, 2, P) bool
    shift: int             # semitones the notes were moved to fit the pitch window
    dropped: int           # notes still outside the window, left out
    time_signature: tuple  # the file's first metre

    @property
    def stem(self) -> str:
        """The file name without its suffix, for the names of what is written from it."""
        return Path(self.name).stem


def find(where, upload_dir=None, name: str = "MY_MIDI") -> list[Path]:
    """The MIDI files ``where`` names: a file, a folder (searched recursively), a list of them, or ``"upload"``.

    ``"upload"`` opens Colab's upload dialog and saves the chosen files in
    ``upload_dir``; outside Colab it is refused with what to set instead.

    Raises
    ------
    FileNotFoundError
        A named path does not exist (the message names the setting, ``name``).
    """
    if where in (None, ""):
        return []
    if isinstance(where, str) and where.strip() == UPLOAD:
        return upload(upload_dir)
    items = [where] if isinstance(where, (str, Path)) else list(where)
    found = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{name}: {path} is neither a file nor a folder")
    return found


def check(where) -> None:
    """Refuse ``MY_MIDI`` in a notebook's first cells, before anything trains: a named path that does not exist
    (``FileNotFoundError``), or ``"upload"`` outside Colab (``ValueError``). The files are read after training."""
    if isinstance(where, str) and where.strip() == UPLOAD:
        _check_upload()
    else:
        find(where)


def _check_upload() -> None:
    from .colab import in_colab

    if not in_colab():
        raise ValueError(f"MY_MIDI = {UPLOAD!r} opens Colab's upload dialog; outside Colab, set MY_MIDI to a "
                         "MIDI file or a folder of them")


def upload(folder) -> list[Path]:
    """Colab's upload dialog; the chosen files are written to ``folder`` and returned."""
    _check_upload()
    from google.colab import files

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.upload().items():
        path = folder / Path(name).name
        path.write_bytes(content)
        written.append(path)
    return written


def _octave_shift(pitches: np.ndarray, fmt: GridFormat) -> int:
    """The whole-octave shift that puts the most notes inside the window (the smallest on a tie)."""
    inside = [(int(((pitches + 12 * k >= fmt.low) & (pitches + 12 * k <= fmt.high)).sum()), -abs(k), k)
              for k in range(-5, 6)]
    return 12 * max(inside)[2]


def segments(path, fmt: GridFormat, max_segments: int = MAX_SEGMENTS) -> OwnPiece:
    """Up to ``max_segments`` consecutive segments of one file, from its first bar line with notes after it.

    Raises
    ------
    MidiError
        The file cannot be used; the message names it and says why.
    ValueError
        ``max_segments`` is not a positive integer.
    """
    if isinstance(max_segments, bool) or not isinstance(max_segments, int) or max_segments < 1:
        raise ValueError(f"max_segments must be a positive integer, got {max_segments!r}")
    path = Path(path)
    if path.suffix.lower() not in MIDI_SUFFIXES:
        raise MidiError(f"{path.name}: not a MIDI file (expected {' or '.join(MIDI_SUFFIXES)})")
    piece = read_midi(path, fmt.steps_per_quarter)
    notes = piece.notes.astype(np.int64)
    shift = _octave_shift(notes[:, 0], fmt)
    notes[:, 0] += shift
    inside = (notes[:, 0] >= fmt.low) & (notes[:, 0] <= fmt.high)
    if not inside.any():
        raise MidiError(f"{path.name}: no note inside the model's pitch range {fmt.low}..{fmt.high}")
    notes = notes[inside]
    T = fmt.segment_steps
    # the last bar line at or before the first note (the first bar line where a pickup comes before it, which is
    # left out), moved on by whole segments where that bar is longer than a segment
    downbeats = [int(s) for s in piece.downbeats if s < piece.n_steps] or [0]
    first = int(notes[:, 1].min())
    start = max([d for d in downbeats if d <= first] or [downbeats[0]])
    start += max(0, first - start) // T * T
    grids = []
    while len(grids) < max_segments and (not grids or start + T <= piece.n_steps):
        shifted = notes - np.array([0, start, start])
        grids.append(notes_to_grid(shifted[(shifted[:, 2] > 0)].clip(min=0), T, fmt))
        start += T  # whole segments only, except a piece shorter than one segment
    while len(grids) > 1 and not grids[-1].any():
        grids.pop()  # a long silence at the end
    if not grids[0].any():
        raise MidiError(f"{path.name}: no segment of {fmt.segment_bars} bars with notes in it")
    return OwnPiece(path.name, np.stack(grids), shift, int((~inside).sum()), tuple(piece.time_signature))


def read(files, fmt: GridFormat, max_segments: int = MAX_SEGMENTS):
    """Every usable file's :class:`OwnPiece`, and ``(file, reason)`` for each file left out."""
    pieces, skipped = [], []
    for path in files:
        try:
            pieces.append(segments(path, fmt, max_segments))
        except MidiError as err:
            skipped.append((Path(path).name, str(err)))
    return pieces, skipped


def report(pieces, skipped, fmt: GridFormat) -> str:
    """One line per file: its segments and what was changed, or why it was left out."""
    lines = []
    for p in pieces:
        notes = []
        if p.shift:
            notes.append(f"moved {p.shift:+d} semitones to fit the model's range")
        if p.dropped:
            notes.append(f"{p.dropped} notes outside the range left out")
        if p.time_signature != tuple(fmt.time_signature):
            notes.append(f"in {p.time_signature[0]}/{p.time_signature[1]}, the model is in "
                         f"{fmt.time_signature[0]}/{fmt.time_signature[1]}")
        lines.append(f"{p.name}: {len(p.grids)} segment(s) of {fmt.segment_bars} bar{'s' * (fmt.segment_bars != 1)}"
                     + (f" ({'; '.join(notes)})" if notes else ""))
    lines += [f"{name}: left out: {reason}" for name, reason in skipped]
    return "\n".join(lines) if lines else "no MIDI file given"
