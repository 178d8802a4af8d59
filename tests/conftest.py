"""Shared fixtures: MIDI files written by hand, event by event, with mido."""
from __future__ import annotations

from pathlib import Path

import mido
import pytest

TPQ = 480
STEP = TPQ // 4  # ticks per sixteenth note


def write_midi(path, notes=(), tpq=TPQ, tempos=((0, 120.0),), time_signatures=((0, 4, 4),),
               drums=(), pedal=(), ons_first=False):
    """Write a one-track MIDI file from absolute tick positions.

    Parameters
    ----------
    notes : iterable of (pitch, start_tick, end_tick) or (pitch, start, end, velocity)
    tempos : iterable of (tick, qpm)
    time_signatures : iterable of (tick, numerator, denominator)
    drums : notes on channel 10, same form as ``notes``
    pedal : iterable of (tick, value) sustain-pedal (CC 64) events
    ons_first : at equal ticks, write note-ons before note-offs (the usual order is
        offs first, so that a zero-length note is written off-then-on, as some
        exporters do with grace notes)
    """
    events = []  # (tick, order, message)
    for tick, qpm in tempos:
        events.append((tick, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm))))
    for tick, num, den in time_signatures:
        events.append((tick, 0, mido.MetaMessage("time_signature", numerator=num, denominator=den)))
    for tick, value in pedal:
        events.append((tick, 1, mido.Message("control_change", control=64, value=value)))
    for channel, group in ((0, notes), (9, drums)):
        for n in group:
            pitch, start, end = n[:3]
            velocity = n[3] if len(n) > 3 else 80
            on_order, off_order = (2, 3) if ons_first else (3, 2)
            events.append((start, on_order, mido.Message("note_on", note=pitch, velocity=velocity, channel=channel)))
            events.append((end, off_order, mido.Message("note_off", note=pitch, velocity=0, channel=channel)))
    # At one tick: meta events, pedal, then note events in the order chosen above.
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    now = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    mf = mido.MidiFile(ticks_per_beat=tpq)
    mf.tracks.append(track)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    mf.save(str(path))
    return path


def write_two_styles(root, chords: str, line: str, pieces: int, chord_low: int, line_low: int, seed: int = 0):
    """Two styles of 4-bar pieces in 4/4: three-note chords of quarter notes (from ``chord_low``) in
    ``root/chords/``, and a line of eighth notes (from ``line_low``) in ``root/line/``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for k in range(pieces):
        notes = [(p, b * 4 * STEP, (b + 1) * 4 * STEP) for b in range(16) for p in chord_low + rng.choice(12, 3, False)]
        write_midi(Path(root) / chords / f"c{k}.mid", notes)
        tune = [(int(line_low + rng.integers(12)), i * 2 * STEP, (i + 1) * 2 * STEP) for i in range(32)]
        write_midi(Path(root) / line / f"l{k}.mid", tune)
    return root


@pytest.fixture
def midi_file(tmp_path):
    """``midi_file(name, **kwargs)`` writes ``tmp_path/name`` with :func:`write_midi`."""
    def make(name="piece.mid", **kwargs):
        return write_midi(tmp_path / name, **kwargs)
    return make
