"""Training segments: downbeat starts, held notes, transposition, batches, style balance."""
import numpy as np
import pytest
import torch

from conftest import STEP, write_midi
from helpers.data import build, segment_starts
from helpers.pianoroll import FRAME, ONSET, GridFormat
from helpers.segments import SegmentDataset, make_loader


def two_bars(pieces, window=None):
    """32-step segments (two bars of 4/4) in ``window``, default the pieces' own range."""
    low, high = window or pieces.pitch_range()
    return GridFormat(low=low, high=high, segment_bars=2)


@pytest.fixture
def pieces(tmp_path):
    root = tmp_path / "src"
    # A pickup of one beat (a 1/4 bar), then 4/4: bar lines at 0, 4, 20, 36, ...
    pickup = [(67, 0, 4 * STEP)] + [(60 + i % 5, (4 + 4 * i) * STEP, (8 + 4 * i) * STEP) for i in range(24)]
    write_midi(root / "a" / "pickup.mid", notes=pickup, time_signatures=[(0, 1, 4), (4 * STEP, 4, 4)])
    # A long held note over bar lines, and a silent stretch from step 40 to 120.
    write_midi(root / "a" / "held.mid",
               notes=[(50, 0, 40 * STEP), (70, 8 * STEP, 12 * STEP), (72, 120 * STEP, 140 * STEP)])
    for k in range(9):
        write_midi(root / "b" / f"b{k}.mid", notes=[(80, s * STEP, (s + 2) * STEP) for s in range(0, 128, 2)])
    return build(root, tmp_path / "out", progress=False)


def test_segments_start_on_downbeats_after_a_pickup(pieces):
    k = pieces.names.index("a/pickup.mid")
    assert pieces.piece_downbeats(k)[:4].tolist() == [0, 4, 20, 36]
    assert segment_starts(pieces, k, 64).tolist() == [0, 4, 20, 36]  # piece is 100 steps
    assert segment_starts(pieces, k, 64, hop_bars=2).tolist() == [0, 20]


def test_silent_segments_are_skipped(pieces):
    k = pieces.names.index("a/held.mid")
    starts = segment_starts(pieces, k, 32).tolist()
    assert 48 not in starts and 64 not in starts and 80 not in starts  # nothing sounds in them
    assert starts == [0, 16, 32, 96]


def test_items_shapes_and_held_notes(pieces):
    ds = SegmentDataset(pieces, None, two_bars(pieces, (48, 83)))
    assert ds.n_pitches == 36
    i = next(i for i in range(len(ds)) if pieces.names[ds.piece[i]] == "a/held.mid" and ds.start[i] == 16)
    grid, style = ds[i]
    assert grid.shape == (32, 2, 36) and grid.dtype == torch.float32 and style == pieces.styles.index("a")
    held = 50 - 48
    assert grid[:24, FRAME, held].tolist() == [1.0] * 24 and grid[24:, FRAME, held].sum() == 0
    assert grid[0, ONSET, held] == 0  # held over from before the segment: no onset


def test_transposition_stays_in_window(pieces):
    torch.manual_seed(0)
    ds = SegmentDataset(pieces, None, two_bars(pieces, (48, 84)), transpose=6)
    shifts, shifts_b = set(), set()
    for i in range(len(ds)):
        grid, _ = ds[i]
        original = ds.grid(i)
        assert grid.sum() == original.sum()  # no note dropped at the window's edges
        p_new = np.flatnonzero(grid[:, FRAME].sum(0).numpy())[0]
        p_old = np.flatnonzero(original[:, FRAME].sum(0))[0]
        shifts.add(int(p_new - p_old))
        if ds.style[i] == 1:
            shifts_b.add(int(p_new - p_old))
        assert ds.shift_min[i] <= p_new - p_old <= ds.shift_max[i]
    assert shifts <= set(range(-6, 7)) and len(shifts) >= 10
    assert max(shifts_b) == 4  # style b's pitch 80 can go up to 84 only
    assert SegmentDataset(pieces, None, two_bars(pieces, (48, 84))).shift_max.max() == 0


def test_loader_batches_and_balances_styles(pieces):
    ds = SegmentDataset(pieces, None, two_bars(pieces))
    x, y = next(iter(make_loader(ds, batch_size=5)))
    assert x.shape == (5, 32, 2, ds.n_pitches) and y.shape == (5,) and y.dtype == torch.int64
    counts = np.bincount(ds.style)
    assert counts[1] > 3 * counts[0]  # style b has many more segments
    torch.manual_seed(0)
    drawn = torch.cat([y for _, y in make_loader(ds, batch_size=64, balance_styles=True)])
    assert len(drawn) == len(ds)
    assert len(make_loader(ds, batch_size=10, balance_styles=True, epoch_size=30).sampler) == 30
    share = drawn.float().mean().item()
    assert 0.35 < share < 0.65


def test_per_style_draws_up_to_n_of_each_style(pieces):
    ds = SegmentDataset(pieces, None, two_bars(pieces))
    counts = np.bincount(ds.style)
    picks = ds.per_style(5, seed=1)
    assert np.bincount(ds.style[picks]).tolist() == [min(5, counts[0]), 5]
    assert len(set(picks.tolist())) == len(picks)
    np.testing.assert_array_equal(picks, ds.per_style(5, seed=1))
    assert np.bincount(ds.style[ds.per_style(1000)]).tolist() == counts.tolist()
    groups = ds.by_style(5, seed=1)  # the same draws, by style
    assert list(groups) == [0, 1] and all((ds.style[mine] == k).all() for k, mine in groups.items())
    np.testing.assert_array_equal(np.concatenate(list(groups.values())), picks)


def test_bad_settings_are_refused(pieces):
    with pytest.raises(ValueError, match="segment_bars"):
        SegmentDataset(pieces, None, GridFormat(segment_bars=0))
    with pytest.raises(ValueError, match="transpose"):
        SegmentDataset(pieces, None, two_bars(pieces), transpose=-1)
    with pytest.raises(ValueError, match="low <= high"):
        SegmentDataset(pieces, None, two_bars(pieces, (90, 60)))
    with pytest.raises(ValueError, match="read at 4 steps per quarter"):
        SegmentDataset(pieces, None, GridFormat(steps_per_quarter=8))
    with pytest.raises(ValueError, match="no segments"):
        make_loader(SegmentDataset(pieces, None, GridFormat(segment_bars=1000)))
    with pytest.raises(ValueError, match="batch_size"):
        make_loader(SegmentDataset(pieces, None, two_bars(pieces)), batch_size=0)


# ---------------------------------------------------------------- metre

@pytest.fixture
def metres(tmp_path):
    """One piece per metre, 8 bars of eighth notes, plus one that turns from 4/4 to 3/4 after 4 bars."""
    root = tmp_path / "metres"

    def piece(name, bars, time_signatures):
        steps = sum(b for b in bars)
        notes = [(60 + s % 7, s * 2 * STEP, (s + 1) * 2 * STEP) for s in range(steps // 2)]
        write_midi(root / "a" / f"{name}.mid", notes=notes, time_signatures=time_signatures)

    piece("four_four", [16] * 8, [(0, 4, 4)])
    piece("two_four", [8] * 16, [(0, 2, 4)])
    piece("four_two", [32] * 4, [(0, 4, 2)])
    piece("three_four", [12] * 8, [(0, 3, 4)])
    piece("turns", [16] * 4 + [12] * 4, [(0, 4, 4), (64 * STEP, 3, 4)])
    return build(root, tmp_path / "out", progress=False)


def starts_in(pieces, name, segment_steps=64, steps_per_bar=16):
    return segment_starts(pieces, pieces.names.index(f"a/{name}.mid"), segment_steps,
                          steps_per_bar=steps_per_bar).tolist()


def test_segments_keep_the_bar_lines_of_the_grid(metres):
    assert starts_in(metres, "four_four") == [0, 16, 32, 48, 64]
    # two bars of 2/4 are one of 4/4: a segment from every bar of 2/4 that starts one of 4/4 or not
    assert starts_in(metres, "two_four") == list(range(0, 65, 8))
    assert starts_in(metres, "four_two") == [0, 32, 64]  # a bar of 4/2 is two of 4/4
    assert starts_in(metres, "three_four") == []  # bar lines at 12, 24, ... would fall mid-bar
    assert starts_in(metres, "three_four", 48, 12) == [0, 12, 24, 36, 48]  # in a 3/4 grid they are kept
    assert starts_in(metres, "turns") == [0]  # the one segment before the 3/4 bars
    assert starts_in(metres, "three_four", steps_per_bar=None) == [0, 12, 24]  # any metre: cut into 64 steps


def test_pickup_is_left_out_of_segments_in_the_grids_metre(pieces):
    k = pieces.names.index("a/pickup.mid")
    assert segment_starts(pieces, k, 64, steps_per_bar=16).tolist() == [4, 20, 36]  # not the one over the 1/4 bar


def test_dataset_keeps_segments_in_its_formats_metre_unless_any_metre(metres):
    fmt = GridFormat(low=50, high=80)
    names = lambda ds: sorted({metres.names[p] for p in ds.piece})  # noqa: E731
    kept = SegmentDataset(metres, None, fmt)
    assert "a/three_four.mid" not in names(kept) and len(kept) == 5 + 9 + 3 + 1
    everything = SegmentDataset(metres, None, fmt, any_metre=True)
    assert "a/three_four.mid" in names(everything) and len(everything) > len(kept)
    waltz = SegmentDataset(metres, None, GridFormat(low=50, high=80, time_signature=(3, 4)))
    assert "a/three_four.mid" in names(waltz) and "a/four_four.mid" not in names(waltz)


def test_metre_rule_matches_its_definition_on_random_bar_patterns():
    from helpers.data import in_metre

    def by_hand(downbeats, start, segment_steps, steps_per_bar):
        inside = [d for d in downbeats if start <= d < start + segment_steps]
        if all((d - start) % steps_per_bar == 0 for d in inside):
            return True
        grid = [start + k * steps_per_bar for k in range(segment_steps // steps_per_bar)]
        ends = [min(([e for e in downbeats if e > d] or [10**9])[0], start + segment_steps) for d in inside]
        return set(grid) <= set(downbeats) and all(steps_per_bar % (e - d) == 0 for d, e in zip(inside, ends))

    rng = np.random.default_rng(0)
    for _ in range(200):
        bars = rng.choice([4, 8, 12, 16, 24, 32], size=rng.integers(1, 30))
        downbeats = np.concatenate([[0], np.cumsum(bars)[:-1]])
        for segment_steps, steps_per_bar in ((64, 16), (48, 12), (32, 8)):
            got = in_metre(downbeats, downbeats, segment_steps, steps_per_bar)
            want = [by_hand(list(downbeats), s, segment_steps, steps_per_bar) for s in downbeats]
            assert got.tolist() == want, (bars.tolist(), segment_steps)
