"""Generation from the command line: samples, interpolations and transfers written as files, bad requests named."""
import re

import pytest

from helpers import cli
from helpers.pianoroll import read_midi


def written(folder, suffix=".mid"):
    return sorted(p.name for p in folder.glob(f"*{suffix}"))


def test_samples_and_an_interpolation_from_the_shipped_models(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["generate", "style", "--out", str(out), "--samples", "2", "--style", "folk", "--no-audio"]) == 0
    assert written(out) == ["sample_folk_1.mid", "sample_folk_2.mid"] and not written(out, ".wav")
    assert written(out, ".png") == ["sample_folk_1.png", "sample_folk_2.png"]
    assert cli.main(["generate", "basic", "--out", str(out), "--samples", "2", "--seed", "3"]) == 0
    assert {"sample_1.mid", "sample_2.mid"} <= set(written(out)) and written(out, ".wav") == [
        "sample_1.wav", "sample_2.wav"]
    first = read_midi(out / "sample_1.mid").notes
    assert len(first) > 0
    assert cli.main(["generate", "basic", "--out", str(tmp_path / "again"), "--samples", "2", "--seed", "3",
                     "--no-audio"]) == 0
    assert (read_midi(tmp_path / "again" / "sample_1.mid").notes == first).all()  # --seed repeats the draws
    assert cli.main(["generate", "basic", "--out", str(out), "--interpolate", str(out / "sample_1.mid"),
                     str(out / "sample_2.mid"), "--steps", "3", "--no-audio"]) == 0
    assert len(read_midi(out / "interpolation.mid").notes) > 0
    assert "onset floor" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, message", [
    (["jazz"], "MODEL 'jazz' is neither a shipped model"),
    (["basic", "--style", "bach"], "'basic' is not a style model"),
    (["style", "--style", "jazz"], r"--style 'jazz': this model's styles are \['bach', 'folk', 'palestrina'\]"),
    (["basic", "--floor", "1.5"], r"--floor must be a number in \[0, 1\)"),
    (["basic", "--samples", "0"], "--samples must be an integer >= 1"),
    (["basic", "--interpolate", "a.mid", "b.mid", "--steps", "1"], "--steps must be an integer >= 2"),
    (["basic", "--temperature", "0"], "--temperature must be a number > 0"),
    (["basic", "--onset-temperature", "-1"], "--onset-temperature must be a number > 0"),
    (["basic", "--qpm", "-60"], "--qpm must be a number > 0"),
    (["style", "--transfer", "x.mid", "--style", "bach", "--segments", "0"], "--segments must be an integer >= 1"),
    (["style", "--transfer", "x.mid"], "give one --style"),
    (["style", "--interpolate", "a.mid", "b.mid"], "give one --style"),
    (["basic", "--attribute", "loudness"], r"--attribute must be one of \['pitch_range'"),
    (["basic", "--attribute", "note_length", "--amount", "0"], "--amount must be a number > 0"),
    (["basic", "--attribute", "note_length", "--transfer", "x.mid"], "--transfer and --attribute are two ways"),
    (["style", "--style-path", "bach", "folk", "--interpolate", "a.mid", "b.mid"],
     "--interpolate and --style-path are two ways"),
    (["style", "--style-path", "bach", "jazz"], r"--style-path B 'jazz' is not one of the styles \['bach'"),
    (["style", "--style-path", "bach", "bach"],
     "--style-path A and --style-path B must be two styles, both are 'bach'"),
    (["style", "--style-path", "bach", "folk", "--style", "bach"], "give no --style"),
    (["basic", "--style-path", "bach", "folk"], "--style-path: 'basic' is not a style model"),
    (["style", "--region", "--style-path", "bach", "folk"], "--region .* does not go with --style-path"),
    (["style", "--transfer", "x.mid", "--style", "bach", "--source", "jazz"], "--source 'jazz'"),
    (["basic", "--region", "--attribute", "note_length"], "--region says where samples are drawn from"),
    (["basic", "--interpolate", "no/a.mid", "no/b.mid"], "--interpolate: no/a.mid is neither a file nor a folder"),
    (["style", "--transfer", "no/x.mid", "--style", "bach"], "--transfer: no/x.mid is neither a file nor a folder"),
    (["basic", "--attribute", "note_length", "no/x.mid"], "--attribute: no/x.mid is neither a file nor a folder"),
])
def test_a_bad_request_is_named_before_anything_is_written(tmp_path, monkeypatch, capsys, arguments, message):
    monkeypatch.chdir(tmp_path)
    for name in ("a.mid", "b.mid", "x.mid"):  # there, so that each request is refused for what it names
        (tmp_path / name).write_bytes(b"MThd")
    assert cli.main(["generate", *arguments[:1], "--out", str(tmp_path / "out"), *arguments[1:]]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_an_interpolation_needs_two_usable_files(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not music")
    assert cli.main(["generate", "basic", "--out", str(tmp_path / "out"), "--interpolate",
                     str(tmp_path / "notes.txt"), str(tmp_path / "notes.txt")]) == 2
    captured = capsys.readouterr()
    assert "notes.txt: left out: notes.txt: not a MIDI file" in captured.out
    assert "--interpolate needs two usable MIDI files" in captured.err


@pytest.mark.parametrize("arguments", [["style", "--transfer", "{}", "--style", "bach"],
                                       ["basic", "--attribute", "note_length", "{}"]])
def test_moving_pieces_needs_one_usable_file(tmp_path, capsys, arguments):
    """Files that are all left out end in an error that says so, not in a silent failure."""
    (tmp_path / "notes.txt").write_text("not music")
    flag = arguments[1]
    arguments = [a.format(tmp_path / "notes.txt") for a in arguments]
    assert cli.main(["generate", arguments[0], "--out", str(tmp_path / "out"), *arguments[1:], "--no-audio"]) == 2
    captured = capsys.readouterr()
    assert "notes.txt: left out" in captured.out
    assert f"{flag}: none of the MIDI files given is usable" in captured.err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_transfer_and_attributes_move_each_piece(tmp_path, capsys):
    """A small style run with its judge: each file, segment by segment, from the judge's guess or --source, into
    another style; or along an attribute vector."""
    from conftest import STEP, write_midi, write_two_styles
    from test_evaluation import trained_run

    root = write_two_styles(tmp_path / "midi", "chords", "line", 10, 60, 60)
    data_dir, run = tmp_path / "data", tmp_path / "run"
    trained_run(run, root, data_dir, ["chords", "line"], 2, judge=True)
    run.joinpath("summary.json").write_text('{"floor": 0.01, "onset_temperature": 1.15}')  # as a notebook writes it
    mine = sorted((root / "chords").glob("*.mid"))[:2]
    out = tmp_path / "out"
    assert cli.main(["generate", str(run), "--out", str(out), "--transfer", *map(str, mine), "--style", "line",
                     "--data-dir", str(data_dir), "--no-audio"]) == 0
    assert written(out) == [f"{p.stem}_as_line.mid" for p in mine]
    text = capsys.readouterr().out
    assert "onset floor 0.01, onset temperature 1.15" in text and "(the judge's guess)" in text
    assert cli.main(["generate", str(run), "--out", str(out), "--transfer", str(mine[0]), "--style", "chords",
                     "--source", "line", "--data-dir", str(data_dir), "--no-audio"]) == 0
    assert f"{mine[0].name}: from line\n" in capsys.readouterr().out
    long = write_midi(tmp_path / "long.mid", [(60 + i % 5, i * 4 * STEP, (i + 1) * 4 * STEP) for i in range(36)])
    assert cli.main(["generate", str(run), "--out", str(out), "--transfer", str(long), "--style", "line",
                     "--source", "chords", "--segments", "2", "--data-dir", str(data_dir), "--no-audio"]) == 0
    assert "long.mid: 2 segment(s) of 1 bar\n" in capsys.readouterr().out  # the run's segments are one bar long
    both = read_midi(out / "long_as_line.mid", 4)  # the piece's first 2 bars (32 steps), then the 2 bars moved
    assert sorted(both.notes[both.notes[:, 1] < 32, 1].tolist()) == list(range(0, 32, 4)) and both.n_steps > 32
    # --attribute: a file written whole at each amount, or samples as strips of one segment per amount
    moved = tmp_path / "moved"
    assert cli.main(["generate", str(run), "--out", str(moved), "--attribute", "notes_per_bar", str(mine[0]),
                     "--style", "line", "--steps", "3", "--data-dir", str(data_dir), "--no-audio"]) == 0
    assert written(moved) == sorted(f"{mine[0].stem}_notes_per_bar_{a}.mid" for a in ("-1", "+0", "+1"))
    assert cli.main(["generate", str(run), "--out", str(moved), "--attribute", "note_length", "--samples", "2",
                     "--style", "chords", "--steps", "3", "--amount", "2", "--data-dir", str(data_dir),
                     "--no-audio"]) == 0
    strips = [f"sample_{i}_note_length_-2_+2.mid" for i in (1, 2)]
    assert set(strips) <= set(written(moved))
    assert read_midi(moved / strips[0], 4).n_steps <= 3 * 16  # three one-bar segments
    # --style-path: samples from the prior, each a strip of one segment per step from one style to the other
    path = tmp_path / "path"
    assert cli.main(["generate", str(run), "--out", str(path), "--style-path", "chords", "line", "--samples", "2",
                     "--steps", "3", "--data-dir", str(data_dir), "--no-audio"]) == 0
    assert written(path) == [f"style_path_chords_to_line_{i}.mid" for i in (1, 2)]
    assert 16 < read_midi(path / "style_path_chords_to_line_1.mid", 4).n_steps <= 3 * 16
    text = capsys.readouterr().out
    assert re.search(r"sample 2, chords -> line in 3 steps; the judge's probability of line along it: "
                     r"[\d.]+ [\d.]+ [\d.]+\n", text)
    # --region: samples from where each style's training pieces lie, the same dice as from the prior
    near = tmp_path / "near"
    assert cli.main(["generate", str(run), "--out", str(near), "--samples", "2", "--style", "line", "--region",
                     "--data-dir", str(data_dir), "--no-audio", "--floor", "0", "--onset-temperature", "1"]) == 0
    assert "onset floor 0.0\n" in capsys.readouterr().out  # the user's floor and temperature over the model's
    assert cli.main(["generate", str(run), "--out", str(tmp_path / "prior"), "--samples", "2", "--style", "line",
                     "--no-audio", "--floor", "0", "--onset-temperature", "1"]) == 0
    assert written(near) == ["sample_line_1.mid", "sample_line_2.mid"]
    assert not all((read_midi(near / f).notes.shape == read_midi(tmp_path / "prior" / f).notes.shape
                    and (read_midi(near / f).notes == read_midi(tmp_path / "prior" / f).notes).all())
                   for f in written(near))


def test_spec_prints_the_library_defaults_or_a_notebook_s_or_a_run_s(capsys):
    import json

    from helpers.experiment import Experiment

    assert cli.main(["spec"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(Experiment().to_dict()))
    assert cli.main(["spec", "style"]) == 0
    spec = json.loads(capsys.readouterr().out)
    assert spec["model"]["decoder"] == "autoregressive" and spec["model"]["n_styles"] == 3
    assert spec["data"]["styles"] == ["bach", "folk", "palestrina"] and spec["data"]["window"] is None
    assert Experiment.from_dict(spec).validate()  # a spec the train command takes
    assert cli.main(["spec", "jazz"]) == 2 and "MODEL 'jazz' is neither" in capsys.readouterr().err
