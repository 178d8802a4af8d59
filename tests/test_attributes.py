"""Attribute vectors: MusicVAE's latent arithmetic, contrasting the segments with the most and the least of a
statistic, and adding the difference to a piece's code."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers import generate, musicstats, pretrained
from helpers.models import PRESETS, GridVAE
from helpers.pianoroll import GridFormat

P, T = 12, 16
FMT = GridFormat(low=60, high=60 + P - 1, segment_bars=1)


def dense_and_sparse(n=16):
    """Half the segments with a note at every step of three pitches, half with one note a beat."""
    grids = np.zeros((n, T, 2, P), bool)
    grids[: n // 2, :, :, 0:3] = True  # frames and onsets at every step: 16 notes a bar per pitch
    grids[n // 2:, ::4, :, 5] = True  # one onset (and frame) each beat
    return grids


def test_an_attribute_vector_is_the_top_quarter_s_mean_code_minus_the_bottom_s():
    torch.manual_seed(0)
    model = GridVAE(replace(PRESETS["smoke"], format=FMT, dropout=0.0)).eval()
    grids = dense_and_sparse()
    vectors = generate.attribute_vectors(model, grids, names=["notes_per_bar"], share=0.25)
    codes = generate.encode(model, grids)
    values = musicstats.statistics(grids, FMT)["notes_per_bar"]
    order = np.argsort(values, kind="stable")
    torch.testing.assert_close(vectors["notes_per_bar"], codes[order[-4:]].mean(0) - codes[order[:4]].mean(0))
    assert set(generate.attribute_vectors(model, grids)) == set(musicstats.STATISTICS)
    with pytest.raises(ValueError, match="names must be one of.*'loudness'"):
        generate.attribute_vectors(model, grids, names=["loudness"])
    with pytest.raises(ValueError, match="share must be"):
        generate.attribute_vectors(model, grids, share=0.8)


def test_with_styles_the_contrast_is_taken_within_each_style():
    """Style 0 all dense, style 1 all sparse: pooled, the vector would be the styles' difference; within each
    style it is the mean of each style's own top-minus-bottom."""
    torch.manual_seed(0)
    model = GridVAE(replace(PRESETS["smoke"], format=FMT, dropout=0.0, n_styles=2)).eval()
    grids = dense_and_sparse(16)
    grids[:8:2, :, :, 3] = True  # denser still: the top of style 0
    grids[9::2, 2::4, :, 7] = True  # two notes a beat: the top of style 1
    labels = np.repeat([0, 1], 8)
    vector = generate.attribute_vectors(model, grids, labels, names=["notes_per_bar"], share=0.25)["notes_per_bar"]
    codes = generate.encode(model, grids, labels)
    values = musicstats.statistics(grids, FMT)["notes_per_bar"]
    expected = []
    for k in (0, 1):
        mine = np.flatnonzero(labels == k)
        order = mine[np.argsort(values[mine], kind="stable")]
        expected.append(codes[order[-2:]].mean(0) - codes[order[:2]].mean(0))
    torch.testing.assert_close(vector, torch.stack(expected).mean(0))


def test_shifting_by_zero_is_the_reconstruction_and_the_draws_repeat():
    torch.manual_seed(0)
    model = GridVAE(replace(PRESETS["smoke"], format=FMT, dropout=0.0, n_styles=2)).eval()
    grids, labels = dense_and_sparse(4), np.array([0, 1, 0, 1])
    vector = torch.randn(model.config.latent)
    moved = generate.shift_attribute(model, grids, vector, [-1, 0, 1], labels, threshold=0.3)
    assert moved.shape == (4, 3, T, 2, P) and moved.dtype == bool
    np.testing.assert_array_equal(moved[:, 1], generate.reconstruct(model, grids, labels, threshold=0.3))
    drawn = generate.shift_attribute(model, grids, vector, [-1, 0, 1], labels, mode="bernoulli", seed=5)
    again = generate.shift_attribute(model, grids, vector, [-1, 0, 1], labels, mode="bernoulli", seed=5)
    np.testing.assert_array_equal(drawn, again)
    with pytest.raises(ValueError, match="amounts must be"):
        generate.shift_attribute(model, grids, vector, [], labels)


def test_the_shipped_model_writes_more_notes_when_asked_for_more():
    """On the shipped basic model: the notes-per-bar vector, found on its own samples, added to their codes
    gives more notes per bar than subtracting it, and longer notes from the note-length vector."""
    model, _, card, _ = pretrained.load("basic")
    pieces = generate.sample(model, 160, seed=0)
    vectors = generate.attribute_vectors(model, pieces, names=["notes_per_bar", "note_length"])
    fmt = model.config.format
    for name, vector in vectors.items():
        moved = generate.shift_attribute(model, pieces[:12], vector, [-1, 1], mode="bernoulli", seed=1)
        less, more = (np.nanmean(musicstats.statistics(moved[:, a], fmt)[name]) for a in (0, 1))
        assert more > 1.3 * less, (name, less, more)


def test_means_along_a_path_are_each_statistic_s_mean_over_the_pieces_at_every_amount():
    grids = dense_and_sparse(4)                            # pieces 0-1 dense, 2-3 one note a beat
    empty = np.zeros_like(grids)
    moved = np.stack([empty, grids, grids[::-1]], axis=1)  # (4 pieces, 3 amounts, T, 2, P)
    means = musicstats.means_along(moved, FMT)
    assert set(means) == set(musicstats.STATISTICS) and all(len(v) == 3 for v in means.values())
    per_piece = musicstats.statistics(grids, FMT)["notes_per_bar"]
    assert means["notes_per_bar"] == pytest.approx([0.0, per_piece.mean(), per_piece.mean()])
    assert np.isnan(means["pitch_range"][0]) and means["pitch_range"][1] == pytest.approx(1.0)  # no note: NaN
    assert list(musicstats.means_along(moved, FMT, ["polyphony"])) == ["polyphony"]
    with pytest.raises(ValueError, match=r"\(N, A, T, 2, P\)"):
        musicstats.means_along(grids, FMT)
