"""MIDI <-> grid: the one representation every part of the project shares.

A *grid* is a time-first boolean array of shape ``(T, 2, P)``:

- ``T`` steps, beat-quantised: ``steps_per_quarter`` steps per quarter note
  (default 4, sixteenth notes). Time is counted in MIDI ticks, not seconds, so
  tempo changes never stretch the grid.
- plane ``FRAME`` (0) is note activity, plane ``ONSET`` (1) marks the step a
  note starts on, so a repeated note stays two notes.
- ``P`` pitches, MIDI ``low`` .. ``low + P - 1`` (the pitch window; default
  the 88 piano keys, 21..108).

A :class:`GridFormat` says how a grid is laid out (resolution, pitch window,
metre, segment length). The dataset owns it, the model's config carries it,
and every function that needs one of those numbers takes the format, so no
caller passes them by hand.

A *note array* is an int32 array of shape ``(N, 3)`` holding
``(pitch, start_step, end_step)`` rows, end exclusive, sorted by start then
pitch. A :class:`Piece` is a note array with its bar lines.

Round trip
----------
For a MIDI file whose non-drum notes start and end on grid steps, lie inside
the window and do not overlap at one pitch, ``grid_to_midi(midi_to_grid(x))``
gives back exactly the same notes (pitch, start step, end step), whatever its
tempo changes and metre.

Notes
-----
The conversion is lossy, by design, in these cases (each pinned by a test):

- **Velocity** is dropped; ``grid_to_midi`` writes every note with one velocity.
- **Instruments** are merged into one part; ``grid_to_midi`` writes one piano.
- **Drums** (MIDI channel 10) are left out.
- **Tempo** is not in the grid; ``grid_to_midi`` writes one tempo (``qpm``).
- **Off-grid timing**: a start or end is rounded to the nearest step (a half
  step rounds up). A note shorter than half a step still lasts one step.
- **Zero-length notes** (note-on, then note-off at the same tick) are left
  out. Written the other way round, note-off first (music21's MIDI writer does
  this for grace notes and chord symbols), MIDI reads the note as sounding
  until the next note-off of its pitch, and both readers keep it sounding:
  that is why the corpus is exported without music21's writer.
- **Overlapping notes of one pitch** become one run of frames with an onset
  for each note: the earlier note ends where the later one starts, and the run
  lasts until the last of them ends. Which note-off ends which note is not
  defined by MIDI: ``pretty_midi`` ends every open note of a pitch at its first
  note-off, ``symusic`` (the bulk reader) ends the oldest one, so the two
  readers can disagree on such files, and only on such files.
- **Notes outside the window** are left out, not folded into it.
- **Sustain pedal** (CC 64) is ignored: notes end at their note-off.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace

import numpy as np
import pretty_midi

STEPS_PER_QUARTER = 4
LOW, HIGH = 21, 108  # inclusive: the 88 keys of a piano
FRAME, ONSET = 0, 1
MAX_STEPS = 50_000  # about 780 bars of 4/4 at sixteenth notes
QPM_RANGE = (10.0, 1000.0)  # tempos outside this are taken as a corrupt file


class MidiError(ValueError):
    """A MIDI file that cannot become a grid; the message names the file and why."""


@dataclass(frozen=True)
class GridFormat:
    """How a grid is laid out; saved with the model, so every later call asks it.

    Attributes
    ----------
    steps_per_quarter : int
        Steps per quarter note (4: sixteenth notes).
    low, high : int
        The pitch window, MIDI pitches, inclusive: column 0 is ``low``.
    time_signature : (int, int)
        The metre the grid is drawn and measured in (bar lines, notes per
        bar); a segment starts on a real downbeat of its piece, and the
        dataset keeps the segments whose bar lines are the grid's
        (:func:`helpers.data.segment_starts`).
    segment_bars : int
        Bars per training segment.
    """

    steps_per_quarter: int = STEPS_PER_QUARTER
    low: int = LOW
    high: int = HIGH
    time_signature: tuple = (4, 4)
    segment_bars: int = 4

    def __post_init__(self):
        object.__setattr__(self, "time_signature", tuple(self.time_signature))  # JSON gives a list

    @property
    def n_pitches(self) -> int:
        """``P``, columns of the window."""
        return self.high - self.low + 1

    @property
    def window(self) -> tuple:
        return self.low, self.high

    @property
    def steps_per_bar(self) -> int:
        num, den = self.time_signature
        return self.steps_per_quarter * 4 * num // den

    @property
    def segment_steps(self) -> int:
        """``T``, steps per training segment."""
        return self.segment_bars * self.steps_per_bar

    def validate(self) -> "GridFormat":
        """Refuse an impossible format, naming the field."""
        for name in ("steps_per_quarter", "segment_bars"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GridFormat.{name} must be a positive integer, got {value!r}")
        if not (isinstance(self.low, int) and isinstance(self.high, int) and 0 <= self.low <= self.high <= 127):
            raise ValueError(f"GridFormat window must satisfy 0 <= low <= high <= 127, got {(self.low, self.high)}")
        ts = self.time_signature
        if len(ts) != 2 or not all(isinstance(x, int) and x > 0 for x in ts) or ts[1] & (ts[1] - 1):
            raise ValueError(f"GridFormat.time_signature must be (beats, power-of-two unit), got {ts!r}")
        if (self.steps_per_quarter * 4 * ts[0]) % ts[1]:
            raise ValueError(f"GridFormat: a bar of {ts[0]}/{ts[1]} is not a whole number of steps at "
                             f"{self.steps_per_quarter} steps per quarter")
        return self

    def with_window(self, low: int, high: int) -> "GridFormat":
        return replace(self, low=int(low), high=int(high))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GridFormat":
        return cls(**d)


DEFAULT_FORMAT = GridFormat()


def parse_time_signature(value) -> tuple:
    """``(beats, unit)`` from ``"3/4"`` (a form field, a command-line option) or a pair; checked by
    :meth:`GridFormat.validate`. Raises ValueError naming the value when it is neither."""
    if isinstance(value, str):
        parts = value.replace(" ", "").split("/")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"a time signature is written like 3/4, got {value!r}")
        return int(parts[0]), int(parts[1])
    try:
        beats, unit = value
    except (TypeError, ValueError):
        raise ValueError(f"a time signature is (beats, unit) or written like 3/4, got {value!r}") from None
    return beats, unit


@dataclass
class Piece:
    """The notes of one piece on the step grid, with its bar lines.

    Attributes
    ----------
    notes : np.ndarray
        ``(N, 3)`` int32 rows of ``(pitch, start_step, end_step)``, end exclusive.
    downbeats : np.ndarray
        ``(M,)`` int32 steps on which a bar starts, ascending.
    n_steps : int
        Length in steps: the end of the last note.
    qpm : float
        The first tempo, in quarter notes per minute.
    time_signature : tuple of int
        The first time signature, ``(numerator, denominator)``.
    """

    notes: np.ndarray
    downbeats: np.ndarray
    n_steps: int
    qpm: float = 120.0
    time_signature: tuple = (4, 4)


def quantise(ticks, tpq: int, steps_per_quarter: int = STEPS_PER_QUARTER) -> np.ndarray:
    """Round tick positions to the nearest step (a half step rounds up).

    Parameters
    ----------
    ticks : array_like of int
        Positions in MIDI ticks.
    tpq : int
        Ticks per quarter note of the file.
    steps_per_quarter : int
        Steps per quarter note of the grid.

    Returns
    -------
    np.ndarray
        int64 step positions, same shape as ``ticks``.
    """
    t = np.asarray(ticks, dtype=np.int64)
    return (2 * t * steps_per_quarter + tpq) // (2 * tpq)


def notes_from_ticks(pitch, start, end, tpq: int, steps_per_quarter: int = STEPS_PER_QUARTER) -> np.ndarray:
    """Quantise notes given in ticks to a sorted ``(N, 3)`` note array in steps.

    Zero-length notes are dropped; a note that rounds to zero steps lasts one
    step; exact duplicates (the same note in two tracks) are kept once.
    """
    pitch = np.asarray(pitch, dtype=np.int64)
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    keep = end > start
    pitch, start, end = pitch[keep], start[keep], end[keep]
    s = quantise(start, tpq, steps_per_quarter)
    e = np.maximum(quantise(end, tpq, steps_per_quarter), s + 1)
    notes = np.stack([pitch, s, e], axis=1).astype(np.int32).reshape(-1, 3)
    if len(notes):
        notes = np.unique(notes, axis=0)  # also sorts by pitch; re-sort below
        notes = notes[np.lexsort((notes[:, 0], notes[:, 1]))]
    return notes


def downbeats_from_ticks(time_signatures, tpq: int, n_steps: int,
                         steps_per_quarter: int = STEPS_PER_QUARTER) -> np.ndarray:
    """Bar starts, in steps, from a list of time signature events.

    Parameters
    ----------
    time_signatures : sequence of (tick, numerator, denominator)
        Each event starts a bar. Before the first event (or with none) the
        metre is 4/4 from tick 0, as MIDI prescribes.
    tpq : int
        Ticks per quarter note.
    n_steps : int
        Length of the piece in steps; bar starts at or after it are dropped.

    Returns
    -------
    np.ndarray
        ``(M,)`` int32 ascending steps, always starting with 0.
    """
    events = {}
    for tick, num, den in time_signatures:
        if num > 0 and den > 0:
            events[int(tick)] = (int(num), int(den))  # the last event at a tick wins
    if 0 not in events:
        events[0] = (4, 4)
    ticks = sorted(events)
    end_tick = n_steps * tpq / steps_per_quarter
    bars = []
    for i, tick in enumerate(ticks):
        num, den = events[tick]
        stop = ticks[i + 1] if i + 1 < len(ticks) else max(end_tick, tick + 1)
        bar = num * 4 * tpq / den  # ticks per bar, may be fractional
        bars.append(tick + bar * np.arange(int(np.ceil((stop - tick) / bar))))
    steps = quantise(np.rint(np.concatenate(bars)).astype(np.int64), tpq, steps_per_quarter)
    steps = np.unique(steps)
    return steps[steps < max(n_steps, 1)].astype(np.int32)


def _check_tempos(qpms, name: str) -> None:
    lo, hi = QPM_RANGE
    for q in np.asarray(qpms, dtype=float):
        if not lo <= q <= hi:
            raise MidiError(f"{name}: tempo {q:.4g} quarter notes per minute is outside {lo:g}-{hi:g}")


def _no_notes(name: str, drum_notes: int, other_notes: int) -> MidiError:
    """Why a file gave no notes: none at all, only drums (left out), or only notes of zero length."""
    if other_notes:
        return MidiError(f"{name}: every note is of zero length ({other_notes} note-on/off pairs at the same tick)")
    if drum_notes:
        return MidiError(f"{name}: only drum notes ({drum_notes}); the drum channel is left out")
    return MidiError(f"{name}: no notes")


def _finish(notes, time_signatures, tpq, steps_per_quarter, qpm, name, max_steps, drum_notes: int = 0,
            other_notes: int = 0) -> Piece:
    if len(notes) == 0:
        raise _no_notes(name, drum_notes, other_notes)
    n_steps = int(notes[:, 2].max())
    if n_steps > max_steps:
        raise MidiError(f"{name}: {n_steps} steps long, more than the limit of {max_steps} "
                        "(absurd tick values?)")
    if notes[:, 1].min() < 0:
        raise MidiError(f"{name}: negative note times")
    downbeats = downbeats_from_ticks(time_signatures, tpq, n_steps, steps_per_quarter)
    first_ts = min(time_signatures, default=(0, 4, 4))[1:]
    return Piece(notes, downbeats, n_steps, float(qpm), tuple(int(x) for x in first_ts))


def _read_symusic(path: str, steps_per_quarter: int, max_steps: int) -> Piece:
    import symusic

    name = os.fspath(path)
    try:
        score = symusic.Score(name, ttype="tick")
    except Exception as err:  # symusic raises RuntimeError/ValueError with a short reason
        raise MidiError(f"{name}: not a readable MIDI file ({err})") from None
    tpq = int(score.tpq)
    if tpq <= 0:
        raise MidiError(f"{name}: invalid resolution of {tpq} ticks per quarter note")
    tempos = score.tempos.numpy()
    qpms = 60e6 / np.maximum(tempos["mspq"].astype(float), 1e-9)
    _check_tempos(qpms, name)
    parts = [t.notes.numpy() for t in score.tracks if not t.is_drum]
    if parts:
        pitch = np.concatenate([p["pitch"] for p in parts]).astype(np.int64)
        start = np.concatenate([p["time"] for p in parts]).astype(np.int64)
        end = start + np.concatenate([p["duration"] for p in parts]).astype(np.int64)
    else:
        pitch = start = end = np.zeros(0, np.int64)
    notes = notes_from_ticks(pitch, start, end, tpq, steps_per_quarter)
    ts = [(t.time, t.numerator, t.denominator) for t in score.time_signatures]
    qpm = qpms[np.argmin(tempos["time"])] if len(qpms) else 120.0
    drums = sum(t.note_num() for t in score.tracks if t.is_drum)
    return _finish(notes, ts, tpq, steps_per_quarter, qpm, name, max_steps, drums, len(pitch))


def _read_pretty_midi(pm: pretty_midi.PrettyMIDI, steps_per_quarter: int, max_steps: int,
                      name: str = "<PrettyMIDI>") -> Piece:
    tpq = int(pm.resolution)
    _, qpms = pm.get_tempo_changes()
    _check_tempos(qpms, name)
    rows = [(n.pitch, pm.time_to_tick(n.start), pm.time_to_tick(n.end))
            for inst in pm.instruments if not inst.is_drum for n in inst.notes]
    arr = np.array(rows, dtype=np.int64).reshape(-1, 3)
    notes = notes_from_ticks(arr[:, 0], arr[:, 1], arr[:, 2], tpq, steps_per_quarter)
    ts = [(pm.time_to_tick(t.time), t.numerator, t.denominator) for t in pm.time_signature_changes]
    qpm = qpms[0] if len(qpms) else 120.0
    drums = sum(len(inst.notes) for inst in pm.instruments if inst.is_drum)
    return _finish(notes, ts, tpq, steps_per_quarter, qpm, name, max_steps, drums, len(arr))


def read_midi(midi, steps_per_quarter: int = STEPS_PER_QUARTER, max_steps: int = MAX_STEPS) -> Piece:
    """Read a MIDI file, or a ``pretty_midi.PrettyMIDI``, as a :class:`Piece`.

    A path is read with ``symusic`` (a C++ parser, hundreds of times faster
    than ``pretty_midi``); a ``PrettyMIDI`` object is read from its own notes.
    Both give the same piece except where notes of one pitch overlap (see the
    module notes).

    Raises
    ------
    MidiError
        The file cannot be read, has no non-drum notes, an absurd tempo, or is
        longer than ``max_steps``; the message names the file.
    """
    if isinstance(midi, pretty_midi.PrettyMIDI):
        return _read_pretty_midi(midi, steps_per_quarter, max_steps)
    path = os.fspath(midi)
    if not os.path.isfile(path):
        raise MidiError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise MidiError(f"{path}: empty file (0 bytes)")
    return _read_symusic(path, steps_per_quarter, max_steps)


def notes_to_grid(notes, n_steps: int | None = None, fmt: GridFormat = DEFAULT_FORMAT) -> np.ndarray:
    """Draw a note array on a grid.

    Parameters
    ----------
    notes : np.ndarray
        ``(N, 3)`` rows of ``(pitch, start_step, end_step)``.
    n_steps : int, optional
        ``T``; by default the end of the last note. Notes past it are cut.
    fmt : GridFormat
        Its pitch window (``low .. high``); notes outside it are left out.

    Returns
    -------
    np.ndarray
        ``(T, 2, P)`` bool grid, ``P = fmt.n_pitches``.
    """
    low, high = fmt.window
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 3)
    if n_steps is None:
        n_steps = int(notes[:, 2].max()) if len(notes) else 0
    n_pitches = high - low + 1
    notes = notes[(notes[:, 0] >= low) & (notes[:, 0] <= high) & (notes[:, 1] < n_steps)]
    p = notes[:, 0] - low
    start = notes[:, 1]
    end = np.minimum(notes[:, 2], n_steps)
    # A difference array makes every frame run in one vectorised pass.
    diff = np.zeros((n_steps + 1, n_pitches), dtype=np.int32)
    np.add.at(diff, (start, p), 1)
    np.add.at(diff, (end, p), -1)
    grid = np.zeros((n_steps, 2, n_pitches), dtype=bool)
    grid[:, FRAME] = np.cumsum(diff[:-1], axis=0) > 0
    grid[start, ONSET, p] = True
    return grid


def grid_to_notes(grid, fmt: GridFormat = DEFAULT_FORMAT) -> np.ndarray:
    """Read the notes back from a grid.

    A note starts on every onset, and on a frame that follows silence (a grid
    without onsets, or a model's output, still decodes); it lasts until the
    frames stop or the next onset of its pitch. An onset with no frame is a
    one-step note.

    Parameters
    ----------
    grid : np.ndarray
        ``(T, 2, P)`` grid, or ``(T, P)`` frames alone; any dtype, nonzero is on.
    fmt : GridFormat
        Its ``low`` is the MIDI pitch of the first column.

    Returns
    -------
    np.ndarray
        ``(N, 3)`` int32 note array, sorted by start then pitch.
    """
    grid = np.asarray(grid) != 0
    if grid.ndim == 2:
        frame, onset = grid, np.zeros_like(grid)
    elif grid.ndim == 3 and grid.shape[1] == 2:
        frame, onset = grid[:, FRAME], grid[:, ONSET]
    else:
        raise ValueError(f"grid must have shape (T, 2, P) or (T, P), got {grid.shape}")
    n_steps, n_pitches = frame.shape
    active = (frame | onset).T  # (P, T)
    onset = onset.T
    # Pad one silent step per pitch so every run ends inside its own row.
    active = np.concatenate([active, np.zeros((n_pitches, 1), bool)], axis=1)
    onset = np.concatenate([onset, np.zeros((n_pitches, 1), bool)], axis=1)
    previous = np.concatenate([np.zeros((n_pitches, 1), bool), active[:, :-1]], axis=1)
    starts = active & (onset | ~previous)
    boundary = ~active | starts
    width = n_steps + 1
    start_idx = np.flatnonzero(starts)
    bound_idx = np.flatnonzero(boundary)
    end_idx = bound_idx[np.searchsorted(bound_idx, start_idx, side="right")]
    row = start_idx // width  # the padding keeps each note's end in its own row
    notes = np.stack([row + fmt.low, start_idx - row * width, end_idx - row * width],
                     axis=1).astype(np.int32).reshape(-1, 3)
    return notes[np.lexsort((notes[:, 0], notes[:, 1]))]


def midi_to_grid(midi, fmt: GridFormat = DEFAULT_FORMAT) -> np.ndarray:
    """Convert a MIDI file path or ``pretty_midi.PrettyMIDI`` to a ``(T, 2, P)`` grid of format ``fmt``.

    See the module notes for what the conversion loses.
    """
    piece = read_midi(midi, fmt.steps_per_quarter)
    return notes_to_grid(piece.notes, piece.n_steps, fmt)


def grid_to_midi(grid, fmt: GridFormat = DEFAULT_FORMAT, qpm: float = 120.0, program: int = 0,
                 velocity: int = 80) -> pretty_midi.PrettyMIDI:
    """Write a grid as a one-instrument ``pretty_midi.PrettyMIDI``.

    Parameters
    ----------
    grid : np.ndarray
        ``(T, 2, P)`` grid or ``(T, P)`` frames (see :func:`grid_to_notes`).
    fmt : GridFormat
        Its resolution, its window (column 0 is ``fmt.low``) and its metre,
        written at time 0.
    qpm : float
        Tempo in quarter notes per minute.
    program : int
        General MIDI program (0 is the acoustic grand piano).
    velocity : int
        The velocity of every note.
    """
    notes = grid_to_notes(grid, fmt)
    pm = pretty_midi.PrettyMIDI(resolution=120 * fmt.steps_per_quarter, initial_tempo=qpm)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(*fmt.time_signature, 0.0))
    seconds_per_step = 60.0 / qpm / fmt.steps_per_quarter
    inst = pretty_midi.Instrument(program=program)
    inst.notes = [pretty_midi.Note(velocity=velocity, pitch=int(p), start=s * seconds_per_step,
                                   end=e * seconds_per_step) for p, s, e in notes]
    pm.instruments.append(inst)
    return pm
