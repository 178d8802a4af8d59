"""Your own MIDI: found, checked like a dataset file, cut into a model's segments, moved into its range."""
import numpy as np
import pytest

from conftest import STEP
from helpers import own_midi
from helpers.pianoroll import ONSET, GridFormat, MidiError

FMT = GridFormat(low=48, high=72, segment_bars=1)  # one bar of 4/4: 16 steps


def bars(n, low=60):
    """``n`` bars of a quarter-note line rising from ``low``."""
    return [(low + i % 8, i * 4 * STEP, (i + 1) * 4 * STEP) for i in range(4 * n)]


def test_a_piece_gives_segments_on_its_bar_lines(midi_file):
    piece = own_midi.segments(midi_file("tune.mid", notes=bars(6)), FMT, max_segments=4)
    assert piece.grids.shape == (4, 16, 2, FMT.n_pitches) and piece.shift == 0 and piece.dropped == 0
    assert piece.name == "tune.mid" and piece.stem == "tune"
    first = piece.grids[0, :, ONSET].nonzero()
    assert list(first[0]) == [0, 4, 8, 12] and list(first[1] + FMT.low) == [60, 61, 62, 63]
    assert list(piece.grids[1, :, ONSET].nonzero()[1] + FMT.low) == [64, 65, 66, 67]  # the second bar


def test_consecutive_segments_from_the_first_bar_with_notes_join_into_the_piece(midi_file):
    two_bars = GridFormat(low=48, high=72, segment_bars=2)
    notes = [(n[0], n[1] + 16 * STEP, n[2] + 16 * STEP) for n in bars(5)]  # a silent bar, then five bars
    path = midi_file("late.mid", notes=notes)
    piece = own_midi.segments(path, two_bars)
    assert piece.grids.shape == (2, 32, 2, two_bars.n_pitches)  # bars 2-3 and 4-5; bar 6 is not a whole segment
    joined = piece.grids.reshape(-1, 2, two_bars.n_pitches)
    onsets = joined[:, ONSET].nonzero()
    assert list(onsets[0]) == list(range(0, 64, 4))  # a quarter note every four steps, no gap and no overlap
    assert list(onsets[1][:9] + two_bars.low) == [60, 61, 62, 63, 64, 65, 66, 67, 60]
    assert own_midi.segments(path, two_bars, max_segments=1).grids.shape[0] == 1
    wide = midi_file("wide.mid", notes=[(60, 40 * STEP, 44 * STEP)], time_signatures=[(0, 16, 4)])  # one 16/4 bar
    assert list(own_midi.segments(wide, FMT).grids[0, :, ONSET].nonzero()[0]) == [8]  # its third 4/4 bar's worth
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_segments must be a positive integer"):
            own_midi.segments(path, two_bars, max_segments=bad)


def test_a_short_piece_is_padded_and_a_high_one_moved_by_octaves(midi_file):
    short = own_midi.segments(midi_file("short.mid", notes=[(60, 0, 2 * STEP)]), FMT)
    assert short.grids.shape[0] == 1 and short.grids[0, 2:].sum() == 0  # two steps of notes, then silence
    high = own_midi.segments(midi_file("high.mid", notes=bars(2, low=96)), FMT)  # C7 and up: above the range
    assert high.shift == -36 and high.dropped == 0 and high.grids.any()
    text = own_midi.report([high], [], FMT)
    assert "high.mid: 2 segment(s)" in text and "moved -36 semitones" in text


def test_files_that_cannot_be_used_are_named_with_their_reason(midi_file, tmp_path):
    good = midi_file("good.mid", notes=bars(2))
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd not really")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not music")
    drums = midi_file("drums.mid", drums=bars(2))
    pieces, skipped = own_midi.read([good, broken, text_file, drums], FMT)
    assert [p.name for p in pieces] == ["good.mid"]
    reasons = dict(skipped)
    assert set(reasons) == {"broken.mid", "notes.txt", "drums.mid"}
    assert "not a readable MIDI file" in reasons["broken.mid"] and "not a MIDI file" in reasons["notes.txt"]
    assert "broken.mid: left out" in own_midi.report(pieces, skipped, FMT)
    with pytest.raises(MidiError, match="broken.mid"):
        own_midi.segments(broken, FMT)


def test_find_takes_files_folders_and_refuses_upload_outside_colab(midi_file, tmp_path):
    a, b = midi_file("a.mid", notes=bars(1)), midi_file("sub/b.midi", notes=bars(1))
    assert own_midi.find(str(tmp_path)) == [a, b]
    assert own_midi.find(a) == [a] and own_midi.find("") == [] and own_midi.find(None) == []
    with pytest.raises(FileNotFoundError, match="MY_MIDI.*missing.mid"):
        own_midi.find(tmp_path / "missing.mid")
    with pytest.raises(ValueError, match="upload.*outside Colab"):
        own_midi.find("upload", tmp_path / "uploads")
    own_midi.check(str(tmp_path)), own_midi.check(""), own_midi.check(None)  # what find takes, refused alike
    with pytest.raises(FileNotFoundError, match="MY_MIDI.*missing.mid"):
        own_midi.check(tmp_path / "missing.mid")
    with pytest.raises(ValueError, match="upload.*outside Colab"):
        own_midi.check(" upload")
    assert not (tmp_path / "uploads").exists()


def test_upload_in_colab_writes_the_chosen_files(monkeypatch, tmp_path, midi_file):
    import sys
    import types

    content = midi_file("mine.mid", notes=bars(1)).read_bytes()
    files = types.SimpleNamespace(upload=lambda: {"mine.mid": content})
    colab = types.ModuleType("google.colab")
    colab.files = files
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    found = own_midi.find("upload", tmp_path / "uploads")
    assert found == [tmp_path / "uploads" / "mine.mid"] and found[0].read_bytes() == content
    assert np.asarray(own_midi.segments(found[0], FMT).grids).any()
