"""Pictures, audio (FluidSynth and the sine fallback), files, and the folders of a run."""
import os
import wave
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from helpers import colab, render
from helpers.pianoroll import GridFormat, notes_to_grid, read_midi

FMT = GridFormat(low=48, high=72)
GRID = notes_to_grid([[60, 0, 4], [64, 4, 8], [67, 8, 16]], 16, FMT)


def bar_lines(ax):
    return [line.get_xdata()[0] + 0.5 for line in ax.lines]


def test_plot_grids_has_pitch_names_and_bar_lines_from_the_format():
    fig = render.plot_grids([GRID, GRID], FMT, titles=["a", "b"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C3", "C4", "C5"]
    assert bar_lines(ax) == [0, 16]  # one bar of 4/4 at 4 steps per quarter
    assert [a.get_title() for a in fig.axes] == ["a", "b"]
    waltz = render.plot_grids([GRID], GridFormat(low=48, high=72, time_signature=(3, 4)))
    assert bar_lines(waltz.axes[0]) == [0, 12]
    eighths = render.plot_grids([GRID], GridFormat(steps_per_quarter=2, low=48, high=72))
    assert bar_lines(eighths.axes[0]) == [0, 8, 16]
    assert bar_lines(render.plot_grids([GRID], FMT, line_every=4).axes[0]) == [0, 4, 8, 12, 16]


def test_pitch_names():
    assert [render.pitch_name(p) for p in (21, 60, 61, 108)] == ["A0", "C4", "C#4", "C8"]


def test_fluidsynth_audio():
    if not os.environ.get("CI"):  # CI installs FluidSynth, so there the real path must work
        pytest.importorskip("fluidsynth")
    audio, backend = render.synthesize(_midi(), 8000)
    assert backend == "fluidsynth"
    assert audio.dtype == np.float32 and np.abs(audio).max() == pytest.approx(0.9, abs=1e-3)


def test_sine_fallback_when_fluidsynth_is_missing(monkeypatch):
    def no_fluidsynth(self, *args, **kwargs):
        raise ImportError("fluidsynth() was called but pyfluidsynth is not installed")

    monkeypatch.setattr(pretty_midi.PrettyMIDI, "fluidsynth", no_fluidsynth)
    audio, backend = render.synthesize(_midi(), 8000)
    assert backend == "sine"
    assert len(audio) >= 8000 * 2 * 0.95  # 16 steps at 120 qpm: two seconds
    assert np.abs(audio).max() == pytest.approx(0.9, abs=1e-3)


def test_save_piece_writes_midi_png_wav(tmp_path):
    out = render.save_piece(GRID, tmp_path / "samples", "tune", FMT, qpm=120.0)
    assert read_midi(out["midi"]).notes.tolist() == [[60, 0, 4], [64, 4, 8], [67, 8, 16]]
    assert out["png"].stat().st_size > 1000
    with wave.open(str(out["wav"])) as w:
        assert w.getframerate() == render.SAMPLE_RATE and w.getnframes() > render.SAMPLE_RATE
    silent = render.save_piece(GRID, tmp_path, "no_audio", FMT, audio=False)
    assert "wav" not in silent and not (tmp_path / "no_audio.wav").exists()


def test_live_loss_draws_each_figure():
    history = [{"epoch": 1, "train_elbo": 3.0, "valid_elbo": 2.5, "train_kl": 1.0},
               {"epoch": 2, "train_elbo": 2.0, "valid_elbo": 2.2, "train_kl": 1.5}]
    fig = render.LiveLoss(["elbo", "kl"], show=False).draw(history)
    assert [a.get_title() for a in fig.axes] == ["elbo", "kl"]
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1


def test_local_paths_never_touch_drive(tmp_path):
    assert not colab.in_colab()
    found = colab.paths(root=tmp_path)
    assert found == {"data": tmp_path / "data", "runs": tmp_path / "runs"}
    assert all(p.is_dir() for p in found.values())
    assert not Path(colab.DRIVE_MOUNT).exists()
    assert colab.repo_root(tmp_path) == tmp_path  # no helpers/ above: stays put
    assert colab.repo_root(Path(__file__).parent) == Path(__file__).parents[1]


def _midi():
    from helpers.pianoroll import grid_to_midi

    return grid_to_midi(GRID, FMT)


def test_silence_still_plays():
    audio, _ = render.synthesize(pretty_midi.PrettyMIDI(), 8000)
    assert len(audio) == 800 and not audio.any()


def test_run_folders(tmp_path, capsys):
    data, run = colab.run_folders("basic", tmp_path / "d", tmp_path / "r")
    assert (data, run) == (tmp_path / "d", tmp_path / "r" / "basic")
    assert "run:  " in capsys.readouterr().out
    with pytest.raises(ValueError, match="RUN_NAME"):
        colab.run_folders("../elsewhere", tmp_path, tmp_path)
