"""MIDI <-> grid: exact round trips, the documented lossy cases, bad input."""
import numpy as np
import pretty_midi
import pytest

from conftest import STEP, TPQ
from helpers.pianoroll import (FRAME, ONSET, GridFormat, MidiError, grid_to_midi, grid_to_notes, midi_to_grid,
                               notes_to_grid, read_midi)


def ticks(notes_in_steps, step=STEP):
    return [(p, s * step, e * step) for p, s, e in notes_in_steps]


def notes_of(midi, **kwargs):
    return grid_to_notes(midi_to_grid(midi, GridFormat(**kwargs))).tolist()


def assert_round_trip(path, expected_steps):
    """File -> grid -> MIDI -> grid gives ``expected_steps`` at every stage, by both readers."""
    expected = sorted(map(list, expected_steps), key=lambda n: (n[1], n[0]))
    grid = midi_to_grid(path)
    assert grid_to_notes(grid).tolist() == expected
    assert notes_of(pretty_midi.PrettyMIDI(str(path))) == expected  # the pretty_midi reader agrees
    pm = grid_to_midi(grid)  # no other argument needed with default settings
    assert notes_of(pm) == expected
    out = path.with_name("round_trip.mid")
    pm.write(str(out))
    assert notes_of(out) == expected


CHORDS = [(60, 0, 4), (64, 0, 4), (67, 0, 4), (59, 4, 8), (62, 4, 8), (67, 4, 8), (60, 8, 16), (64, 8, 16)]
REPEATED = [(72, 0, 2), (72, 2, 4), (72, 4, 6), (72, 6, 8), (72, 8, 16)]
TIES = [(55, 12, 20), (62, 0, 32), (65, 30, 34)]  # held across bar lines at steps 16 and 32


@pytest.mark.parametrize("notes", [CHORDS, REPEATED, TIES], ids=["chords", "repeated", "ties"])
def test_round_trip_exact(midi_file, notes):
    assert_round_trip(midi_file(notes=ticks(notes)), notes)


def test_round_trip_with_tempo_changes(midi_file):
    notes = [(60, 0, 4), (62, 4, 8), (64, 8, 12), (65, 12, 20), (67, 20, 21)]
    path = midi_file(notes=ticks(notes), tempos=[(0, 60.0), (4 * STEP, 200.0), (10 * STEP, 33.0)])
    assert_round_trip(path, notes)
    assert read_midi(path).qpm == pytest.approx(60.0)


@pytest.mark.parametrize("num,den,bar_steps", [(3, 4, 12), (6, 8, 12), (2, 2, 16), (4, 2, 32)])
def test_round_trip_and_bar_lines_in_other_metres(midi_file, num, den, bar_steps):
    notes = [(60, 0, 6), (64, 6, 12), (67, 12, 13), (72, 13, 30), (48, 30, 3 * bar_steps)]
    path = midi_file(notes=ticks(notes), time_signatures=[(0, num, den)])
    assert_round_trip(path, notes)
    piece = read_midi(path)
    assert piece.downbeats.tolist() == [0, bar_steps, 2 * bar_steps]
    assert piece.time_signature == (num, den)


def test_bar_lines_follow_metre_changes_and_pickups(midi_file):
    # A pickup written as a 1/4 bar, then 4/4, then 3/4 from step 36.
    path = midi_file(notes=ticks([(60, 0, 60)]), time_signatures=[(0, 1, 4), (4 * STEP, 4, 4), (36 * STEP, 3, 4)])
    assert read_midi(path).downbeats.tolist() == [0, 4, 20, 36, 48]
    no_signature = midi_file("plain.mid", notes=ticks([(60, 0, 40)]), time_signatures=[])
    assert read_midi(no_signature).downbeats.tolist() == [0, 16, 32]  # MIDI's default is 4/4


def test_grid_layout_literal():
    grid = notes_to_grid([[61, 0, 3], [61, 3, 4], [63, 1, 2]], n_steps=5, fmt=GridFormat(low=60, high=63))
    frames = [[0, 1, 0, 0], [0, 1, 0, 1], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    onsets = [[0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    assert grid.shape == (5, 2, 4) and grid.dtype == bool
    np.testing.assert_array_equal(grid[:, FRAME], frames)
    np.testing.assert_array_equal(grid[:, ONSET], onsets)


def test_decoding_frames_without_onsets():
    frames = np.array([[1, 0], [1, 1], [0, 1], [1, 1]])
    assert grid_to_notes(frames, GridFormat(low=60)).tolist() == [[60, 0, 2], [61, 1, 4], [60, 3, 4]]
    grid = np.zeros((3, 2, 1))
    grid[1, ONSET, 0] = 0.9  # an onset alone is a one-step note
    assert grid_to_notes(grid, GridFormat(low=60)).tolist() == [[60, 1, 2]]
    with pytest.raises(ValueError, match="shape"):
        grid_to_notes(np.zeros((4, 3, 5)))


# ---------------------------------------------------------------- lossy cases, pinned

def test_velocity_is_dropped(midi_file):
    path = midi_file(notes=[(60, 0, 4 * STEP, 20), (64, 0, 4 * STEP, 120)])
    assert notes_of(path) == [[60, 0, 4], [64, 0, 4]]
    pm = grid_to_midi(midi_to_grid(path), velocity=90)
    assert [n.velocity for n in pm.instruments[0].notes] == [90, 90]


def test_off_grid_timing_is_rounded_and_short_notes_last_a_step(midi_file):
    # 120 ticks per step: 59 -> 0, 60 -> 1 (half rounds up), 10-tick note -> one step, zero length -> dropped.
    path = midi_file(notes=[(60, 59, 181), (62, 60, 300), (64, 250, 260), (66, 480, 480), (67, 0, 480)])
    assert notes_of(path) == [[60, 0, 2], [67, 0, 4], [62, 1, 3], [64, 2, 3]]


def test_zero_length_notes(midi_file):
    # Note-on then note-off at one tick: left out by both readers.
    path = midi_file("on_off.mid", notes=[(70, 4 * STEP, 4 * STEP), (60, 0, 20 * STEP)], ons_first=True)
    assert notes_of(path) == [[60, 0, 20]]
    assert notes_of(pretty_midi.PrettyMIDI(str(path))) == [[60, 0, 20]]
    # Note-off first (music21's writer does this for grace notes): MIDI then says the note
    # sounds until the next note-off of its pitch, and both readers keep it sounding.
    path = midi_file("off_on.mid", notes=[(70, 4 * STEP, 4 * STEP), (70, 16 * STEP, 20 * STEP), (60, 0, 20 * STEP)])
    assert notes_of(path) == [[60, 0, 20], [70, 4, 20]]
    assert notes_of(pretty_midi.PrettyMIDI(str(path))) == [[60, 0, 20], [70, 4, 16], [70, 16, 20]]


def test_overlapping_notes_of_one_pitch_literal():
    # Written through pretty_midi objects so the pairing of note-offs is explicit.
    pm = pretty_midi.PrettyMIDI(resolution=TPQ, initial_tempo=120)
    inst = pretty_midi.Instrument(0)
    sec = 0.125  # one step at 120 qpm
    inst.notes = [pretty_midi.Note(80, 60, 0, 8 * sec), pretty_midi.Note(80, 60, 4 * sec, 6 * sec),
                  pretty_midi.Note(80, 60, 5 * sec, 10 * sec)]
    pm.instruments.append(inst)
    grid = midi_to_grid(pm, GridFormat(low=60, high=60))
    np.testing.assert_array_equal(grid[:, FRAME, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(grid[:, ONSET, 0], [1, 0, 0, 0, 1, 1, 0, 0, 0, 0])
    assert grid_to_notes(grid, GridFormat(low=60)).tolist() == [[60, 0, 4], [60, 4, 5], [60, 5, 10]]


def test_notes_outside_window_are_left_out(midi_file):
    path = midi_file(notes=ticks([(59, 0, 4), (60, 0, 4), (72, 4, 8), (73, 4, 8)]))
    grid = midi_to_grid(path, GridFormat(low=60, high=72))
    assert grid.shape == (8, 2, 13)
    assert grid_to_notes(grid, GridFormat(low=60)).tolist() == [[60, 0, 4], [72, 4, 8]]


def test_drums_are_left_out(midi_file):
    path = midi_file(notes=ticks([(60, 0, 4)]), drums=ticks([(36, 0, 8), (42, 2, 3)]))
    assert notes_of(path) == [[60, 0, 4]]
    assert notes_of(pretty_midi.PrettyMIDI(str(path))) == [[60, 0, 4]]


def test_sustain_pedal_is_ignored(midi_file):
    path = midi_file(notes=ticks([(60, 0, 2), (64, 2, 4)]), pedal=[(0, 127), (16 * STEP, 0)])
    assert notes_of(path) == [[60, 0, 2], [64, 2, 4]]


def test_instruments_merge_and_duplicates_collapse():
    pm = pretty_midi.PrettyMIDI(resolution=TPQ, initial_tempo=120)
    for program in (0, 40):
        inst = pretty_midi.Instrument(program)
        inst.notes = [pretty_midi.Note(80, 67, 0.0, 0.5), pretty_midi.Note(80, 48 + program // 10, 0.5, 1.0)]
        pm.instruments.append(inst)
    assert notes_of(pm) == [[67, 0, 4], [48, 4, 8], [52, 4, 8]]
    assert len(grid_to_midi(midi_to_grid(pm)).instruments) == 1


def test_tempo_is_not_in_the_grid(midi_file):
    slow = midi_file("slow.mid", notes=ticks([(60, 0, 4), (62, 4, 8)]), tempos=[(0, 40.0)])
    fast = midi_file("fast.mid", notes=ticks([(60, 0, 4), (62, 4, 8)]), tempos=[(0, 240.0)])
    np.testing.assert_array_equal(midi_to_grid(slow), midi_to_grid(fast))
    pm = grid_to_midi(midi_to_grid(slow), qpm=90.0)
    assert pm.get_tempo_changes()[1].tolist() == pytest.approx([90.0])


def test_other_resolutions_agree(midi_file):
    notes = [(60, 0, 3), (61, 3, 7), (62, 7, 8)]
    for tpq in (96, 384, 960):
        path = midi_file(f"r{tpq}.mid", notes=ticks(notes, tpq // 4), tpq=tpq)
        assert notes_of(path) == [list(n) for n in notes]


def test_steps_per_quarter_other_than_four(midi_file):
    path = midi_file(notes=[(60, 0, 160), (62, 160, 480)])  # a triplet eighth, then the rest of the beat
    assert notes_of(path, steps_per_quarter=3) == [[60, 0, 1], [62, 1, 3]]
    fmt = GridFormat(steps_per_quarter=3)
    grid = midi_to_grid(path, fmt)
    assert notes_of(grid_to_midi(grid, fmt), steps_per_quarter=3) == [[60, 0, 1], [62, 1, 3]]


# ---------------------------------------------------------------- bad input

def test_bad_files_raise_midi_error_naming_the_file(tmp_path, midi_file):
    good = midi_file("good.mid", notes=ticks([(60, 0, 4)] * 1 + [(62, s, s + 1) for s in range(4, 60)]))
    data = good.read_bytes()
    cases = {
        "empty.mid": (b"", "empty file"),
        "truncated.mid": (data[: len(data) // 2], "not a readable MIDI file"),
        "text.mid": (b"this is not a MIDI file at all", "not a readable MIDI file"),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(MidiError, match=reason) as err:
            read_midi(tmp_path / name)
        assert name in str(err.value)
    generated = {
        "silent.mid": (dict(notes=[]), "no notes"),
        "drums.mid": (dict(drums=ticks([(36, 0, 4), (38, 4, 8)])), "only drum notes \\(2\\)"),
        "zero.mid": (dict(notes=[(60, 96, 96)], ons_first=True), "zero length"),
        "far.mid": (dict(notes=[(60, 0, 240), (60, 10**8, 10**8 + 240)]), "limit"),
        "fast.mid": (dict(notes=ticks([(60, 0, 4)]), tempos=[(0, 60_000.0)]), "tempo"),
        "slow.mid": (dict(notes=ticks([(60, 0, 4)]), tempos=[(0, 120.0), (2 * STEP, 4.0)]), "tempo"),
    }
    for name, (kwargs, reason) in generated.items():
        path = midi_file(name, **kwargs)
        with pytest.raises(MidiError, match=reason) as err:
            read_midi(path)
        assert name in str(err.value)
    with pytest.raises(MidiError, match="no such file"):
        read_midi(tmp_path / "missing.mid")
    with pytest.raises(MidiError, match="only drum notes"):  # the same reason from a PrettyMIDI
        read_midi(pretty_midi.PrettyMIDI(str(tmp_path / "drums.mid")))


def test_grid_format_knows_its_bars_and_refuses_what_cannot_be():
    fmt = GridFormat(steps_per_quarter=4, low=48, high=83, time_signature=(3, 4), segment_bars=4)
    assert (fmt.n_pitches, fmt.steps_per_bar, fmt.segment_steps, fmt.window) == (36, 12, 48, (48, 83))
    assert GridFormat(steps_per_quarter=2, time_signature=[6, 8]).steps_per_bar == 6  # a list, as JSON gives it
    assert GridFormat.from_dict(fmt.to_dict()) == fmt
    for bad, field in [(dict(steps_per_quarter=0), "steps_per_quarter"), (dict(low=60, high=59), "low <= high"),
                       (dict(time_signature=(3, 6)), "time_signature"), (dict(segment_bars=1.5), "segment_bars"),
                       (dict(steps_per_quarter=1, time_signature=(3, 8)), "whole number of steps")]:
        with pytest.raises(ValueError, match=field):
            GridFormat(**bad).validate()


def test_grid_to_midi_writes_the_format_metre():
    fmt = GridFormat(low=60, high=72, time_signature=(3, 4))
    pm = grid_to_midi(notes_to_grid([[60, 0, 12], [64, 12, 24]], 24, fmt), fmt)
    ts = pm.time_signature_changes[0]
    assert (ts.numerator, ts.denominator) == (3, 4)
    assert read_midi(pm).downbeats.tolist() == [0, 12]
