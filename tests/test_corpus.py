"""The embedded corpus: music21 scores to MIDI, around music21's traps."""
import json

import numpy as np
import pytest
from music21 import chord, harmony, meter, note, stream, tempo, tie

from helpers import corpus
from helpers.data import build
from helpers.experiment import DataConfig, build_splits
from helpers.pianoroll import GridFormat, notes_to_grid, read_midi


def measure(number, *elements, padding=0.0):
    m = stream.Measure(number=number)
    for el in elements:
        m.append(el)
    m.paddingLeft = padding
    return m


def tied(name, length, kind):
    n = note.Note(name, quarterLength=length)
    n.tie = tie.Tie(kind)
    return n


@pytest.fixture
def score():
    """Two parts in 3/4 with a one-beat pickup, a grace note, a chord symbol and a tie over a bar line."""
    upper = stream.Part()
    upper.append([
        measure(0, meter.TimeSignature("3/4"), tempo.MetronomeMark(number=90), note.Note("G4"), padding=2.0),
        measure(1, note.Note("B4").getGrace(), harmony.ChordSymbol("C"), chord.Chord(["E4", "G4"]),
                tied("C5", 2, "start")),
        measure(2, tied("C5", 1, "stop"), note.Note("C5", quarterLength=2)),
    ])
    lower = stream.Part()
    lower.append([
        measure(0, meter.TimeSignature("3/4"), note.Rest(), padding=2.0),
        measure(1, note.Note("C3", quarterLength=3)),
        measure(2, note.Note("G2", quarterLength=3)),
    ])
    s = stream.Score()
    s.insert(0, upper)
    s.insert(0, lower)
    return s


def test_score_to_midi_handles_the_traps(score, tmp_path):
    assert corpus.score_to_midi(score, tmp_path / "s.mid") == 7
    piece = read_midi(tmp_path / "s.mid")
    # The pickup is padded to a full 3/4 bar: G4 on beat 3 (step 8), bar lines at 0, 12, 24.
    # No grace note (B4) and no chord-symbol notes; the tied C5 is one note over the bar line.
    assert piece.notes.tolist() == [[67, 8, 12],
                                    [48, 12, 24], [64, 12, 16], [67, 12, 16], [72, 16, 28],
                                    [43, 24, 36], [72, 28, 36]]
    assert piece.downbeats.tolist() == [0, 12, 24]
    assert piece.time_signature == (3, 4)
    assert piece.qpm == pytest.approx(90, abs=1e-3)


def test_notes_of_one_pitch_never_overlap_in_a_part(tmp_path):
    voices = stream.Part()
    m = stream.Measure(number=1)
    m.insert(0, note.Note("C4", quarterLength=4))
    m.insert(1, note.Note("C4", quarterLength=1))  # a second voice on the same pitch
    m.insert(0, meter.TimeSignature("4/4"))
    voices.append(m)
    s = stream.Score()
    s.insert(0, voices)
    corpus.score_to_midi(s, tmp_path / "v.mid")
    assert read_midi(tmp_path / "v.mid").notes.tolist() == [[60, 0, 4], [60, 4, 8]]


@pytest.mark.slow
def test_export_real_pieces_bach_and_folk(tmp_path):
    written, skipped = corpus.export_item(("bach", "bach/bwv66.6.mxl"), tmp_path)
    assert skipped == [] and [p.rsplit("/", 1)[-1] for p in written] == ["bwv66.6.mid"]
    chorale = read_midi(written[0])
    frames = notes_to_grid(chorale.notes, chorale.n_steps, GridFormat(low=0, high=127))[:, 0].sum(1)
    assert 3.5 < frames[frames > 0].mean() < 4.5  # four voices
    assert chorale.notes[:, 1].min() == 12  # a one-beat pickup, padded to a full 4/4 bar
    assert chorale.downbeats[:3].tolist() == [0, 16, 32]
    written, skipped = corpus.export_item(("folk", "ryansMammoth/MaloneysFancyJig.abc"), tmp_path)
    jig = read_midi(written[0])
    frames = notes_to_grid(jig.notes, jig.n_steps, GridFormat(low=0, high=127))[:, 0].sum(1)
    assert frames.max() == 1 and jig.time_signature == (6, 8)
    assert jig.notes[:, 1].min() == 10  # an eighth-note pickup in a 12-step bar
    assert jig.downbeats[:3].tolist() == [0, 12, 24]


def test_export_reports_unreadable_scores(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "corpus_root", lambda: tmp_path)
    rests = stream.Score([stream.Part([measure(1, meter.TimeSignature("4/4"), note.Rest(quarterLength=4))])])
    rests.write("musicxml", tmp_path / "rests.musicxml")
    written, skipped = corpus.export_item(("folk", "rests.musicxml"), tmp_path / "out")
    assert written == [] and skipped == [("folk/rests.musicxml", "could not export: ValueError: no pitched notes "
                                                                  "in the score")]
    written, skipped = corpus.export_item(("folk", "missing/none.xml"), tmp_path / "out")
    assert written == [] and skipped[0][0] == "folk/missing/none.xml"
    assert "music21 could not parse it" in skipped[0][1]


@pytest.mark.slow
def test_corpus_source_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "STYLES", {
        "bach": ("bach/bwv1.6.mxl", "bach/bwv10.7.mxl", "bach/bwv101.7.mxl", "bach/bwv102.7.mxl"),
        "folk": ("ryansMammoth/Maloney*.abc", "ryansMammoth/Jolly*.abc"),
    })
    pieces = build("music21", tmp_path, styles=["bach", "folk"], workers=2, progress=False)
    assert pieces.styles == ["bach", "folk"]
    assert np.bincount(pieces.style).tolist()[0] == 4 and len(pieces) >= 6
    marker = json.loads((tmp_path / "music21" / "bach" / "export.json").read_text())
    assert marker["files"] == 4 and marker["skipped"] == []
    stamp = (tmp_path / "music21" / "bach" / "bwv1.6.mid").stat().st_mtime_ns
    again = build("music21", tmp_path, styles=["bach", "folk"], progress=False)
    assert again.names == pieces.names
    only_bach = build("music21", tmp_path, styles=["bach"], progress=False)  # shares the export
    assert only_bach.styles == ["bach"] and len(only_bach) == 4
    assert (tmp_path / "music21" / "bach" / "bwv1.6.mid").stat().st_mtime_ns == stamp  # not exported twice
    with pytest.raises(ValueError, match="unknown corpus style"):
        build("music21", tmp_path, styles=["polka"], progress=False)
    # Another file limit (a SMOKE run's) exports beside the default export and leaves it as it was.
    small = build("music21", tmp_path, styles=["bach"], max_per_style=2, progress=False)
    assert len(small) == 2 and len(list((tmp_path / "music21-2" / "bach").glob("*.mid"))) == 2
    assert (tmp_path / "music21" / "bach" / "bwv1.6.mid").stat().st_mtime_ns == stamp
    assert len(build("music21", tmp_path, styles=["bach"], progress=False)) == 4
    # a split left without segments by the limit names the limit (SMOKE keeps 8 files per style)
    with pytest.raises(ValueError, match="or more files: DataConfig.max_per_style is 2 .*SMOKE lowers to 8"):
        build_splits(DataConfig(source="music21", styles=("bach",), max_per_style=2, segment_bars=64), tmp_path,
                     progress=False)


def test_default_styles_exist_in_the_corpus():
    for style in corpus.DEFAULT_STYLES:
        assert any(corpus.corpus_root().glob(corpus.STYLES[style][0])), style
    assert len(corpus.DEFAULT_STYLES) >= 4


def test_max_per_style_takes_a_fixed_spread_sample():
    some = corpus.corpus_items(["palestrina", "monteverdi"], max_per_style=12)
    assert some == corpus.corpus_items(["palestrina", "monteverdi"], max_per_style=12)
    palestrina = [rel for style, rel in some if style == "palestrina"]
    assert len(palestrina) == 12 and len({rel.split("/")[1].split("_")[0] for rel in palestrina}) > 3
    everything = corpus.corpus_items(["palestrina"], max_per_style=0)
    assert len(everything) > 1000 and set(palestrina) <= {rel for _, rel in everything}


@pytest.mark.slow
def test_fast_reader_matches_pretty_midi_on_exported_pieces(tmp_path):
    import pretty_midi

    items = [(s, rel) for s in corpus.DEFAULT_STYLES for _, rel in corpus.corpus_items([s], max_per_style=2)]
    for item in items:
        written, skipped = corpus.export_item(item, tmp_path)
        assert written and not skipped, item
        fast, slow = read_midi(written[0]), read_midi(pretty_midi.PrettyMIDI(written[0]))
        np.testing.assert_array_equal(fast.notes, slow.notes)
        np.testing.assert_array_equal(fast.downbeats, slow.downbeats)
