"""Training segments: fixed-length windows of the pieces, as a PyTorch dataset.

A segment is ``fmt.segment_steps`` steps (default 64: four bars of 4/4)
starting on a downbeat of its piece, in the pitch window of the format,
drawn from the cached notes on demand (no MIDI is read here), optionally
transposed at random for training.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, WeightedRandomSampler

from .data import PieceSet, segment_starts
from .pianoroll import ONSET, GridFormat, notes_to_grid


class SegmentDataset(Dataset):
    """Segments of one split as ``(grid, style)`` pairs.

    Parameters
    ----------
    pieces : PieceSet
        The dataset (see :func:`helpers.data.build`).
    split : {"train", "valid", "test"} or None
        Which pieces; ``None`` takes all.
    fmt : GridFormat
        The grids: ``T = fmt.segment_steps`` steps, the pitch window
        ``fmt.low .. fmt.high`` (notes outside are left out). Its resolution
        must be the one the pieces were read at. Every split of one model
        shares one format (:func:`helpers.experiment.build_splits`).
    transpose : int
        Largest random transposition in semitones (0: none). Each segment is
        shifted by a uniform draw in ``[-transpose, transpose]``, narrowed so
        that its notes stay inside the window. Draws use torch's global
        generator, so a seeded run is repeatable.
    hop_bars : int
        Start a segment on every ``hop_bars``-th downbeat.
    styles : sequence of str, optional
        Keep only these styles (labels stay indices into ``pieces.styles``).
    any_metre : bool
        Also keep segments whose bar lines are not the format's (a 3/4
        stretch cut into bars of 4/4); by default only segments in the
        format's metre (:func:`helpers.data.segment_starts`).

    Notes
    -----
    Each item is ``(grid, style)``: a float32 tensor ``(T, 2, P)`` and an int.
    A note held over the segment's start has frames but no onset at step 0.
    """

    def __init__(self, pieces: PieceSet, split: str | None, fmt: GridFormat, transpose: int = 0,
                 hop_bars: int = 1, styles=None, any_metre: bool = False):
        fmt.validate()
        if not isinstance(transpose, int) or transpose < 0:
            raise ValueError(f"transpose must be an integer >= 0 semitones, got {transpose!r}")
        read_at = pieces.settings.get("steps_per_quarter", fmt.steps_per_quarter)
        if read_at != fmt.steps_per_quarter:
            raise ValueError(f"the pieces were read at {read_at} steps per quarter, the format asks for "
                             f"{fmt.steps_per_quarter}: build the dataset at the format's resolution")
        self.pieces, self.format = pieces, fmt
        segment_steps, (low, high) = fmt.segment_steps, fmt.window
        self.transpose = transpose
        piece, start, lo, hi = [], [], [], []
        for k in pieces.indices(split, styles):
            s = segment_starts(pieces, k, segment_steps, hop_bars, None if any_metre else fmt.steps_per_bar)
            if not len(s):
                continue
            notes = pieces.piece_notes(k)
            # (S, N): which notes sound in which segment, for each segment's pitch range.
            inside = (notes[None, :, 1] < s[:, None] + segment_steps) & (notes[None, :, 2] > s[:, None])
            lo.append(np.where(inside, notes[None, :, 0], 127).min(1))
            hi.append(np.where(inside, notes[None, :, 0], 0).max(1))
            piece.append(np.full(len(s), k))
            start.append(s)
        cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.int64)  # noqa: E731
        # 18 bytes per segment: a corpus of millions of segments indexes in tens of megabytes.
        self.piece, self.start = cat(piece).astype(np.int32), cat(start).astype(np.int32)
        lo, hi = cat(lo), cat(hi)
        self.shift_min = np.minimum(0, np.maximum(-transpose, low - lo)).astype(np.int8)
        self.shift_max = np.maximum(0, np.minimum(transpose, high - hi)).astype(np.int8)
        self.style = pieces.style[self.piece].astype(np.int64)  # labels, as embeddings and losses take them

    @property
    def n_pitches(self) -> int:
        return self.format.n_pitches

    def grids(self, indices=None) -> np.ndarray:
        """Segments as one ``(N, T, 2, P)`` bool array, untransposed (default: all)."""
        indices = range(len(self)) if indices is None else indices
        grids = [self.grid(int(i)) for i in indices]
        return np.stack(grids) if grids else np.zeros((0, self.format.segment_steps, 2, self.n_pitches), bool)

    def __len__(self) -> int:
        return len(self.piece)

    def grid(self, i: int, shift: int = 0) -> np.ndarray:
        """Segment ``i`` as a ``(T, 2, P)`` bool grid, transposed by ``shift`` semitones."""
        notes = self.pieces.piece_notes(int(self.piece[i]))
        d, length = int(self.start[i]), self.format.segment_steps
        notes = notes[:np.searchsorted(notes[:, 1], d + length)]
        notes = notes[notes[:, 2] > d] - np.array([-shift, d, d])
        held = notes[:, 1] < 0
        notes[:, 1] = np.maximum(notes[:, 1], 0)
        grid = notes_to_grid(notes, length, self.format)
        p = notes[held, 0] - self.format.low
        grid[0, ONSET, p[(p >= 0) & (p < self.n_pitches)]] = False
        return grid

    def by_style(self, n: int, seed: int = 0) -> dict[int, np.ndarray]:
        """``{style index: indices}`` of up to ``n`` segments of each style present, drawn without replacement
        (seeded; in the order drawn)."""
        rng = np.random.default_rng(seed)
        return {int(k): rng.permutation(np.flatnonzero(self.style == k))[:n] for k in np.unique(self.style)}

    def per_style(self, n: int, seed: int = 0) -> np.ndarray:
        """The indices of :meth:`by_style`, style after style, in one array."""
        picks = list(self.by_style(n, seed).values())
        return np.concatenate(picks) if picks else np.zeros(0, np.int64)

    def __getitem__(self, i: int):
        shift = 0
        if self.transpose:
            shift = int(torch.randint(int(self.shift_min[i]), int(self.shift_max[i]) + 1, ()).item())
        return torch.from_numpy(self.grid(i, shift).astype(np.float32)), int(self.style[i])


class SegmentSampler(Sampler):
    """The segments of one epoch for one of ``world`` processes: every process draws the same global order
    (seeded by ``seed`` and the epoch, see :meth:`set_epoch`) and takes every ``world``-th of it.

    The global order is a permutation (``shuffle``), the segments in order, or,
    with ``weights``, ``epoch_size`` draws with replacement (the style
    balance). It is padded by wrapping around to a multiple of ``world``, so
    every process gets as many segments. With ``world == 1`` it is an
    ordinary seeded sampler: one process with batch ``B`` sees, batch for
    batch, the union of what two processes with batch ``B / 2`` see.
    """

    def __init__(self, n: int, shuffle: bool = True, weights=None, epoch_size: int | None = None, seed: int = 0,
                 rank: int = 0, world: int = 1):
        if not 0 <= rank < world:
            raise ValueError(f"rank must be in [0, {world}), got {rank}")
        self.n, self.shuffle, self.weights = n, shuffle, weights
        self.total = epoch_size or n
        self.seed, self.rank, self.world, self.epoch = seed, rank, world, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-self.total // self.world)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        if self.weights is not None:
            order = torch.multinomial(self.weights, self.total, replacement=True, generator=g)
        elif self.shuffle:
            order = torch.randperm(self.n, generator=g)[:self.total]
        else:
            order = torch.arange(self.total)
        padded = len(self) * self.world
        order = torch.cat([order, order[:padded - len(order)]])
        return iter(order[self.rank::self.world].tolist())


def make_loader(dataset: SegmentDataset, batch_size: int = 64, shuffle: bool = True,
                balance_styles: bool = False, epoch_size: int | None = None, drop_last: bool = False,
                num_workers: int = 0, seed: int | None = None, rank: int = 0, world: int = 1) -> DataLoader:
    """A ``DataLoader`` of ``(grids (B, T, 2, P), styles (B,))`` batches.

    With ``balance_styles`` every style is drawn equally often (sampling with
    replacement, weights inverse to each style's number of segments), so that
    no style dominates an epoch; an epoch is ``epoch_size`` segments (default
    ``len(dataset)``). With a ``seed`` (and always under several processes,
    ``world > 1``) the order comes from a :class:`SegmentSampler`: this
    process's share of one global, seeded order per epoch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if len(dataset) == 0:
        raise ValueError("the dataset has no segments: pieces shorter than one segment, or an empty split")
    weights = None
    if balance_styles:  # each segment's weight: one over its style's number of segments
        counts = np.bincount(dataset.style)
        weights = torch.as_tensor(1.0 / counts[dataset.style], dtype=torch.double)
    if seed is not None or world > 1:
        sampler = SegmentSampler(len(dataset), shuffle, weights, epoch_size if balance_styles else None,
                                 seed or 0, rank, world)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                          num_workers=num_workers)
    sampler = None
    if balance_styles:
        sampler = WeightedRandomSampler(weights, epoch_size or len(dataset), replacement=True)
        shuffle = False
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, sampler=sampler,
                      drop_last=drop_last, num_workers=num_workers)
