"""Datasets of style-labelled pieces: build, cache, split, segment, load.

A dataset comes from one of three sources:

1. ``"music21"`` (the default): the corpus shipped inside the ``music21``
   package, exported once to MIDI in style subfolders (:mod:`helpers.corpus`);
2. a folder ``<root>/<style>/**/*.mid`` (or ``.midi``): the subfolder names are
   the styles; files directly in ``<root>`` take the root's own name;
3. a zip or tar archive, by path or URL, with an optional SHA-256
   (:mod:`helpers.archive`), whose content is such a folder.

Every readable file becomes a piece (its notes on the step grid and its bar
lines, see :mod:`helpers.pianoroll`). The pieces are cached in a folder keyed
by every setting that changes them, so the second load of an unchanged
dataset parses no MIDI. The split into train/valid/test is by piece, seeded,
stratified by style, and saved in the cache. A file that cannot be read is
skipped with its reason; one bad file never stops a build.

Corpora larger than memory: the build reads the files on every core and
writes its results in *shards* of :data:`SHARD_FILES` files as it goes, so
its memory does not grow with the corpus, and a build that is interrupted
picks up after its last finished shard. When every shard is written they are
joined, by streaming their bytes, into the cache folder::

    notes.npy, downbeats.npy   every piece's notes and bar lines, end to end,
                               memory-mapped when loaded (read on demand)
    index.npz                  per piece: style, length, split, offsets, pitch range
    meta.json                  styles, file names, skipped files, settings; written last

A loaded :class:`PieceSet` holds the two large arrays as read-only memory
maps: a piece's notes are read from disk when a segment of it is drawn.

Command line::

    python -m helpers.data [SOURCE] [--out DIR] [--styles bach folk ...]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from . import archive, pianoroll
from .pianoroll import MAX_STEPS, STEPS_PER_QUARTER, parse_time_signature

CACHE_VERSION = 2  # 2: a folder of memory-mapped arrays, built in resumable shards
SHARD_FILES = 1000  # files per build shard: the build's memory and the work lost to an interruption
MIDI_SUFFIXES = (".mid", ".midi")
SPLITS = ("train", "valid", "test")
DEFAULT_DATA_DIR = "data"
SEGMENT_STEPS = 64  # 4 bars of 4/4 at sixteenth notes: the segments the build report counts
POOL_MIN_FILES = 500  # below this, starting worker processes costs more than it saves


class DatasetError(ValueError):
    """Nothing usable was found; the message says where and why."""


@dataclass
class PieceSet:
    """Every piece of a dataset, flat in a few arrays (cheap to save, fast to load).

    Attributes
    ----------
    styles : list of str
        Style names; ``style`` indexes into it.
    names : list of str
        Each piece's file, relative to the dataset root.
    style, n_steps, split : np.ndarray
        ``(n,)`` per piece: style index, length in steps, split index into
        :data:`SPLITS`.
    notes, note_offsets : np.ndarray
        All note arrays stacked, ``(N, 3)``; piece ``i`` is
        ``notes[note_offsets[i]:note_offsets[i + 1]]``.
    downbeats, downbeat_offsets : np.ndarray
        All bar starts stacked, likewise.
    skipped : list of (str, str)
        ``(file, reason)`` for every file left out.
    settings : dict
        What the pieces were built with (``steps_per_quarter``, ...).
    low, high : np.ndarray
        ``(n,)`` per piece: its lowest and highest pitch.
    """

    styles: list
    names: list
    style: np.ndarray
    n_steps: np.ndarray
    split: np.ndarray
    notes: np.ndarray
    note_offsets: np.ndarray
    downbeats: np.ndarray
    downbeat_offsets: np.ndarray
    skipped: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    def __post_init__(self):
        if self.low is None or self.high is None:  # per-piece pitch ranges, so no range needs every note
            n = len(self.names)
            self.low, self.high = np.zeros(n, np.int16), np.zeros(n, np.int16)
            for i in range(n):
                pitches = self.piece_notes(i)[:, 0]
                self.low[i], self.high[i] = (pitches.min(), pitches.max()) if len(pitches) else (127, 0)

    def __len__(self) -> int:
        return len(self.names)

    def piece_notes(self, i: int) -> np.ndarray:
        """``(N, 3)`` note array of piece ``i``."""
        return self.notes[self.note_offsets[i]:self.note_offsets[i + 1]]

    def piece_downbeats(self, i: int) -> np.ndarray:
        """``(M,)`` bar starts of piece ``i``, in steps."""
        return self.downbeats[self.downbeat_offsets[i]:self.downbeat_offsets[i + 1]]

    def indices(self, split: str | None = None, styles=None) -> np.ndarray:
        """Piece indices of one split (``None``: all), optionally of some styles only."""
        keep = np.ones(len(self), bool)
        if split is not None:
            keep &= self.split == SPLITS.index(split)
        if styles is not None:
            keep &= np.isin(self.style, [self.styles.index(s) for s in styles])
        return np.flatnonzero(keep)

    def pitch_range(self, indices=None) -> tuple[int, int]:
        """Lowest and highest MIDI pitch over some pieces (default: all)."""
        keep = slice(None) if indices is None else np.asarray(indices, dtype=np.int64)
        return int(self.low[keep].min()), int(self.high[keep].max())

    def save(self, folder) -> None:
        """Write the cache folder (see the module's description); ``meta.json`` last marks it complete."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "meta.json").unlink(missing_ok=True)
        for name in ("notes", "downbeats"):
            array = getattr(self, name)
            _write_npy(folder / f"{name}.npy", [array], array.shape[1:], array.dtype)
        _save_index(folder, self)

    @classmethod
    def load(cls, folder) -> "PieceSet":
        """A cache folder, its notes and bar lines memory-mapped (read-only, read on demand)."""
        folder = Path(folder)
        meta = json.loads((folder / "meta.json").read_text())
        meta["skipped"] = [tuple(s) for s in meta["skipped"]]
        with np.load(folder / "index.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        for name in ("notes", "downbeats"):
            arrays[name] = np.load(folder / f"{name}.npy", mmap_mode="r")
        return cls(**meta, **arrays)

    def summary(self, segment_steps: int = SEGMENT_STEPS, steps_per_bar: int | None = None) -> list[dict]:
        """Per style: pieces (and per split), segments, skipped files; with ``steps_per_bar``, the
        segments in the grid's metre (``segments``) and those left out for another (``other_metre``)."""
        rows = []
        for k, style in enumerate(self.styles):
            idx = np.flatnonzero(self.style == k)
            row = {"style": style, "pieces": len(idx)}
            for s, name in enumerate(SPLITS):
                row[name] = int((self.split[idx] == s).sum())
            every = [segment_starts(self, i, segment_steps) for i in idx]  # each piece's, whatever the metre
            if steps_per_bar is None:
                row["segments"] = int(sum(len(s) for s in every))
            else:  # the same starts, those in the grid's metre kept (segment_starts' filter, without a second pass)
                kept = [int(in_metre(self.piece_downbeats(i), s, segment_steps, steps_per_bar).sum()) if len(s) else 0
                        for i, s in zip(idx, every)]
                row["segments"] = sum(kept)
                row["other_metre"] = int(sum(len(s) for s in every)) - row["segments"]
            row["skipped"] = sum(1 for f, _ in self.skipped if f.split("/")[0] == style)
            rows.append(row)
        return rows


INDEX_ARRAYS = ("style", "n_steps", "split", "note_offsets", "downbeat_offsets", "low", "high")


def _write_npy(path: Path, parts, tail_shape, dtype, rows: int | None = None) -> None:
    """Write the arrays ``parts`` end to end as one ``.npy`` file of ``rows`` rows, atomically.

    ``parts`` may be a generator: one part is in memory at a time.
    """
    if rows is None:
        parts = list(parts)
        rows = sum(len(p) for p in parts)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # one per process: builds may run side by side
    with open(tmp, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                 "fortran_order": False, "shape": (rows, *tail_shape)})
        for part in parts:
            f.write(np.ascontiguousarray(part, dtype=dtype).tobytes())
    os.replace(tmp, path)


def _save_index(folder: Path, pieces: PieceSet) -> None:
    tmp = folder / f".index.{os.getpid()}.tmp.npz"
    np.savez(tmp, **{k: getattr(pieces, k) for k in INDEX_ARRAYS})
    os.replace(tmp, folder / "index.npz")
    meta = {"styles": pieces.styles, "names": pieces.names, "skipped": pieces.skipped, "settings": pieces.settings}
    (folder / f".meta.json.{os.getpid()}.tmp").write_text(json.dumps(meta))
    os.replace(folder / f".meta.json.{os.getpid()}.tmp", folder / "meta.json")  # last: it marks the cache complete


def segment_starts(pieces: PieceSet, i: int, segment_steps: int = SEGMENT_STEPS, hop_bars: int = 1,
                   steps_per_bar: int | None = None) -> np.ndarray:
    """Start steps of the segments of piece ``i``: every ``hop_bars``-th downbeat
    whose segment fits inside the piece and holds at least one note.

    With ``steps_per_bar`` (the grid's bar), only segments in the grid's
    metre (:func:`in_metre`): a 3/4 or 6/8 stretch, or a bar of another
    length in between, is not cut into 4/4 segments whose bar lines would
    fall mid-bar.
    """
    notes = pieces.piece_notes(i)
    n = int(pieces.n_steps[i])
    downbeats = pieces.piece_downbeats(i)
    starts = downbeats[::hop_bars]
    starts = starts[starts + segment_steps <= n]
    if steps_per_bar is not None and len(starts):
        starts = starts[in_metre(downbeats, starts, segment_steps, steps_per_bar)]
    if not len(starts):
        return starts
    # Steps with any note sounding, as a running count, to find silent segments.
    diff = np.zeros(n + 1, np.int32)
    np.add.at(diff, notes[:, 1], 1)
    np.add.at(diff, notes[:, 2], -1)
    sounding = np.concatenate([[0], np.cumsum(np.cumsum(diff[:-1]) > 0)])
    return starts[sounding[starts + segment_steps] > sounding[starts]]


def in_metre(downbeats: np.ndarray, starts: np.ndarray, segment_steps: int, steps_per_bar: int) -> np.ndarray:
    """``(S,)`` bool: whether the segment at each of ``starts`` has the grid's bar lines (see :func:`segment_starts`).

    ``downbeats`` are the piece's bar lines, ascending. A segment is in the
    grid's metre when the piece's bar lines inside it all fall on the grid's
    (bars a whole number of the grid's), or when the grid's bar lines are all
    the piece's and each of the piece's bars inside it divides the grid's bar
    (two bars of 2/4 in one of 4/4, but not 3/4 + 1/4).
    """
    downbeats = np.asarray(downbeats, np.int64)
    starts = np.asarray(starts, np.int64)[:, None]
    ends = starts + segment_steps
    # the bar lines from each start's on: at most segment_steps + 1 of them can lie inside its segment
    index = np.searchsorted(downbeats, starts) + np.arange(min(len(downbeats), segment_steps + 1))
    exists = index < len(downbeats)
    lines = downbeats[np.minimum(index, len(downbeats) - 1)]
    following = np.where(index + 1 < len(downbeats), downbeats[np.minimum(index + 1, len(downbeats) - 1)],
                         np.iinfo(np.int64).max)
    inside = exists & (lines >= starts) & (lines < ends)
    on_grid = (lines - starts) % steps_per_bar == 0
    whole_bars = ~(inside & ~on_grid).any(1)
    grid_lines = starts + steps_per_bar * np.arange(max(1, segment_steps // steps_per_bar))
    bar = np.minimum(following, ends) - lines  # each bar's length, cut at the segment's end
    divides = ~(inside & (steps_per_bar % np.maximum(bar, 1) != 0)).any(1)
    parts_of_bars = np.isin(grid_lines, downbeats).all(1) & divides
    return whole_bars | parts_of_bars


# --------------------------------------------------------------------------- building

def list_midi_files(root, styles=None) -> tuple[list[tuple[str, Path]], list[tuple[str, str]]]:
    """Find ``<root>/<style>/**/*.mid|*.midi``.

    Returns
    -------
    files : list of (style, path)
    skipped : list of (folder, reason)
        Style folders with no MIDI file in them.

    Raises
    ------
    DatasetError
        ``root`` is missing or not a folder, or a requested style has no folder.
    """
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: no such folder")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder (nor a .zip/.tar archive)")

    def midi_in(folder, recursive=True):
        found = folder.rglob("*") if recursive else folder.iterdir()
        return sorted(p for p in found if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES)

    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if styles is not None:
        missing = [s for s in styles if not (root / s).is_dir()]
        if missing:
            raise DatasetError(f"{root}: no folder for style(s) {missing}; found {[p.name for p in folders]} "
                           "(choose styles among those, or none for all of them)")
        folders = [root / s for s in styles]
    files, skipped = [], []
    for folder in folders:
        found = midi_in(folder)
        if not found:
            skipped.append((folder.name + "/", "empty folder: no .mid or .midi file in it"))
        files += [(folder.name, p) for p in found]
    if styles is None:
        files += [(root.name, p) for p in midi_in(root, recursive=False)]
    return files, skipped


def _read_one(args):
    path, steps_per_quarter, max_steps = args
    try:
        piece = pianoroll.read_midi(path, steps_per_quarter, max_steps)
        return piece.notes, piece.downbeats, piece.n_steps
    except pianoroll.MidiError as err:
        return str(err)
    except Exception as err:  # a reader bug must not stop the build either
        return f"{path}: unexpected error ({type(err).__name__}: {err})"


def split_pieces(style: np.ndarray, names: list, seed: int, fractions=(0.8, 0.1, 0.1)) -> np.ndarray:
    """Assign each piece to a split, per style, fixed by ``seed``.

    Each style with at least three pieces gets at least one validation and
    one test piece. Returns ``(n,)`` int8 indices into :data:`SPLITS`.
    """
    split = np.zeros(len(names), np.int8)
    rng = np.random.default_rng(seed)
    for k in np.unique(style):
        idx = np.flatnonzero(style == k)
        idx = idx[np.argsort([names[i] for i in idx], kind="stable")]  # independent of listing order
        idx = idx[rng.permutation(len(idx))]
        n = len(idx)
        n_valid = max(1, round(fractions[1] * n)) if n >= 3 else 0
        n_test = max(1, round(fractions[2] * n)) if n >= 3 else 0
        split[idx[:n_test]] = 2
        split[idx[n_test:n_test + n_valid]] = 1
    return split


def _fingerprint(files, root, settings) -> str:
    h = hashlib.sha1(json.dumps(settings, sort_keys=True).encode())
    for style, p in files:
        st = p.stat()
        h.update(f"{style}\0{p.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _shard_path(folder: Path, k: int) -> Path:
    return folder / f"{k:05d}.npz"


def _write_shard(path: Path, results: list) -> None:
    """One shard: the notes and bar lines of its readable files end to end, and the reason of each other file."""
    ok = [r for r in results if not isinstance(r, str)]
    empty = np.zeros((0, 3), np.int32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, ok=np.array([not isinstance(r, str) for r in results], bool),
             reasons=np.array([r if isinstance(r, str) else "" for r in results], dtype=str),
             notes=np.concatenate([r[0] for r in ok] or [empty]).astype(np.int32),
             n_notes=np.array([len(r[0]) for r in ok], np.int64),
             downbeats=np.concatenate([r[1] for r in ok] or [np.zeros(0, np.int32)]).astype(np.int32),
             n_downbeats=np.array([len(r[1]) for r in ok], np.int64),
             n_steps=np.array([r[2] for r in ok], np.int32),
             low=np.array([r[0][:, 0].min() if len(r[0]) else 127 for r in ok], np.int16),
             high=np.array([r[0][:, 0].max() if len(r[0]) else 0 for r in ok], np.int16))
    os.replace(tmp, path)


def _read_shards(jobs, shards: Path, workers: int, progress: bool, desc: str) -> None:
    """Read every file of ``jobs`` into shards of :data:`SHARD_FILES` files; finished shards are kept."""
    from tqdm.auto import tqdm

    groups = [jobs[k:k + SHARD_FILES] for k in range(0, len(jobs), SHARD_FILES)]
    todo = [k for k in range(len(groups)) if not _shard_path(shards, k).exists()]
    if len(todo) < len(groups):
        print(f"resuming the build: {len(groups) - len(todo)} of {len(groups)} shards already read", flush=True)
    pending = [job for k in todo for job in groups[k]]
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(pending), desc=desc, disable=not progress, unit="file")
    pool = Pool(workers) if workers > 1 and len(pending) >= POOL_MIN_FILES else None
    try:
        results = pool.imap(_read_one, pending, chunksize=32) if pool else map(_read_one, pending)
        for k in todo:
            chunk = []
            for _ in groups[k]:
                chunk.append(next(results))
                bar.update()
            _write_shard(_shard_path(shards, k), chunk)
    finally:
        bar.close()
        if pool:
            pool.terminate()


@contextmanager
def exclusive(target: Path):
    """Hold the building of ``target`` for this process: another process building the same thing (a second
    notebook, the ranks of a multi-GPU run, benches side by side) waits here, then finds it built."""
    try:
        import fcntl
    except ImportError:  # no POSIX locks (Windows): builds side by side are not guarded
        yield
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "a") as f:
        locked = True
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another process building {target}", flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        except OSError:  # a file system without locks (some network mounts): not guarded
            locked = False
        try:
            yield
        finally:
            if locked:
                fcntl.flock(f, fcntl.LOCK_UN)


def build_from_folder(root, cache_dir, styles=None, steps_per_quarter: int = STEPS_PER_QUARTER,
                      seed: int = 0, fractions=(0.8, 0.1, 0.1), max_steps: int = MAX_STEPS,
                      workers: int | None = None, progress: bool = True, extra_skipped=()) -> PieceSet:
    """Build (or load from cache) the pieces of a folder of style subfolders.

    The files are read in shards (kept in ``<cache>/shards/`` until the end, so
    an interrupted build resumes after its last finished shard), then joined
    into the cache folder by streaming; memory stays bounded by a shard.
    """
    root = Path(root)
    files, skipped = list_midi_files(root, styles)
    settings = {"steps_per_quarter": steps_per_quarter, "max_steps": max_steps, "seed": seed,
                "fractions": list(fractions), "version": CACHE_VERSION}
    key = _fingerprint(files, root, settings)
    cache = Path(cache_dir) / f"{root.name}-{key}"
    if (cache / "meta.json").exists():
        return PieceSet.load(cache)
    if not files:
        raise DatasetError(f"{root}: no MIDI files (*.mid, *.midi) in it or its style folders")
    with exclusive(cache):
        if (cache / "meta.json").exists():  # built by another process while this one waited
            return PieceSet.load(cache)
        return _build_cache(root, cache, files, skipped, settings, key, workers, progress, extra_skipped)


def _build_cache(root: Path, cache: Path, files, skipped, settings: dict, key: str, workers, progress,
                 extra_skipped) -> PieceSet:
    """Read ``files`` into the cache folder ``cache`` (see :func:`build_from_folder`), with ``settings``."""
    steps_per_quarter, max_steps = settings["steps_per_quarter"], settings["max_steps"]
    shards = cache / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    jobs = [(str(p), steps_per_quarter, max_steps) for _, p in files]
    _read_shards(jobs, shards, workers or os.cpu_count() or 1, progress, f"MIDI -> grids ({root.name})")

    # Join: first the small per-piece figures of every shard, then the notes and bar lines, streamed.
    style_names = sorted({s for s, _ in files})
    names, style, index = [], [], {k: [] for k in ("n_steps", "low", "high", "n_notes", "n_downbeats")}
    n_shards = -(-len(files) // SHARD_FILES)
    for k in range(n_shards):
        with np.load(_shard_path(shards, k)) as z:
            part = files[k * SHARD_FILES:(k + 1) * SHARD_FILES]
            for (s, p), ok, reason in zip(part, z["ok"], z["reasons"]):
                rel = p.relative_to(root).as_posix()
                if not ok:
                    skipped.append((rel, str(reason).removeprefix(f"{p}: ")))
                    continue
                names.append(rel)
                style.append(style_names.index(s))
            for name in index:
                index[name].append(z[name])
    if not names:
        reasons = "; ".join(f"{f}: {r}" for f, r in skipped[:5])
        raise DatasetError(f"{root}: none of the {len(files)} MIDI files could be read ({reasons})")
    index = {k: np.concatenate(v) for k, v in index.items()}

    def stream(name):
        for k in range(n_shards):
            with np.load(_shard_path(shards, k)) as z:
                yield z[name]

    _write_npy(cache / "notes.npy", stream("notes"), (3,), np.int32, rows=int(index["n_notes"].sum()))
    _write_npy(cache / "downbeats.npy", stream("downbeats"), (), np.int32, rows=int(index["n_downbeats"].sum()))
    used = sorted(set(style))  # a style whose files all failed is dropped
    style = np.searchsorted(used, style).astype(np.int16)
    pieces = PieceSet(
        styles=[style_names[k] for k in used], names=names, style=style, n_steps=index["n_steps"],
        split=split_pieces(style, names, settings["seed"], settings["fractions"]),
        notes=np.load(cache / "notes.npy", mmap_mode="r"),
        note_offsets=np.concatenate([[0], np.cumsum(index["n_notes"])]).astype(np.int64),
        downbeats=np.load(cache / "downbeats.npy", mmap_mode="r"),
        downbeat_offsets=np.concatenate([[0], np.cumsum(index["n_downbeats"])]).astype(np.int64),
        skipped=list(extra_skipped) + sorted(skipped), settings=dict(settings, root=str(root), key=key),
        low=index["low"], high=index["high"])
    _save_index(cache, pieces)
    for shard in shards.iterdir():
        shard.unlink()
    shards.rmdir()
    return pieces


def build(source: str = "music21", out=DEFAULT_DATA_DIR, styles=None, steps_per_quarter: int = STEPS_PER_QUARTER,
          seed: int = 0, fractions=(0.8, 0.1, 0.1), sha256: str | None = None, max_steps: int = MAX_STEPS,
          max_per_style: int | None = None, workers: int | None = None, progress: bool = True) -> PieceSet:
    """Build or load a dataset.

    Parameters
    ----------
    source : str or path
        ``"music21"`` (the embedded corpus), a folder of style subfolders, or
        a zip/tar archive (path or URL).
    out : path
        Data folder: corpus export (``music21/``, or ``music21-<limit>/`` with
        another file limit), downloads, extracted archives, ``cache/``.
    styles : sequence of str, optional
        Styles to keep (corpus: keys of ``helpers.corpus.STYLES``; folder:
        subfolder names). Default: the corpus defaults, or every subfolder.
    steps_per_quarter : int
        Grid resolution.
    seed, fractions :
        The split: seed and (train, valid, test) shares.
    sha256 : str, optional
        Expected checksum of an archive.
    max_per_style : int, optional
        Corpus only: at most this many music21 files per style (0: all;
        default ``helpers.corpus.DEFAULT_MAX_PER_STYLE``).
    """
    from . import corpus

    if steps_per_quarter < 1:
        raise ValueError(f"steps_per_quarter must be a positive integer, got {steps_per_quarter}")
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions must be three non-negative shares summing to 1, got {fractions}")
    out = Path(out)
    common = dict(cache_dir=out / "cache", steps_per_quarter=steps_per_quarter, seed=seed, fractions=fractions,
                  max_steps=max_steps, workers=workers, progress=progress)
    if str(source) == "music21":
        styles = tuple(styles or corpus.DEFAULT_STYLES)
        limit = corpus.DEFAULT_MAX_PER_STYLE if max_per_style is None else max_per_style
        folder = out / corpus.export_folder(limit)
        export = corpus.export_corpus(folder, styles, limit, workers, progress)
        extra = [tuple(s) for s in export["skipped"]]
        return build_from_folder(folder, styles=styles, extra_skipped=extra, **common)
    if archive.is_url(source) or archive.is_archive(source):
        root = archive.fetch_archive(source, out, sha256)
        return build_from_folder(root, styles=styles, **common)
    return build_from_folder(Path(source), styles=styles, **common)


# --------------------------------------------------------------------------- command line

def format_report(pieces: PieceSet, segment_steps: int = SEGMENT_STEPS, metre: tuple | None = None) -> str:
    """The table the command line prints: per style pieces, splits, segments, skipped; then each skip.

    With ``metre`` (a time signature), the segments counted are those in that
    metre (:func:`segment_starts`), and a column counts those left out for another.
    """
    steps_per_bar = None
    if metre is not None:
        steps_per_bar = pianoroll.GridFormat(pieces.settings["steps_per_quarter"], time_signature=metre).steps_per_bar
    rows = pieces.summary(segment_steps, steps_per_bar)
    columns = ["pieces", "train", "valid", "test", "segments"] + (["other_metre"] if steps_per_bar else [])
    widths = {"pieces": 8, "train": 8, "valid": 8, "test": 8, "segments": 10, "other_metre": 13}
    head = f"{'style':<16}" + "".join(f"{c.replace('_', ' '):>{widths[c]}}" for c in columns) + f"{'skipped':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['style']:<16}" + "".join(f"{r[c]:>{widths[c]}}" for c in columns) + f"{r['skipped']:>9}")
    lines.append(f"{'total':<16}" + "".join(f"{sum(r[c] for r in rows):>{widths[c]}}" for c in columns)
                 + f"{len(pieces.skipped):>9}")
    named = f"{metre[0]}/{metre[1]}" if steps_per_bar else ""
    lines.append(f"segments: {segment_steps} steps at {pieces.settings['steps_per_quarter']} steps per quarter, "
                 f"starting on a downbeat" + (f", in {named}" if named else ""))
    if steps_per_bar and any(r["other_metre"] for r in rows):
        lines.append(f"other metre: segments whose bar lines are not those of {named}, left out (a model in "
                     "their metre: DataConfig.time_signature; all of them: DataConfig.any_metre)")
    if pieces.skipped:
        lines.append(f"\n{len(pieces.skipped)} file(s) skipped:")
        lines += [f"  {f}: {r}" for f, r in pieces.skipped]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.data", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", default="music21",
                        help="'music21' (default), a folder <root>/<style>/*.mid, or a zip/tar path or URL")
    parser.add_argument("--out", default=os.environ.get("GRIDVAE_DATA", DEFAULT_DATA_DIR),
                        help="data folder for exports, downloads and the cache (default: %(default)s)")
    parser.add_argument("--styles", nargs="+", help="styles to keep (default: all, or the corpus defaults)")
    parser.add_argument("--steps-per-quarter", type=int, default=STEPS_PER_QUARTER)
    parser.add_argument("--time-signature", default="4/4", type=parse_time_signature,
                        help="metre of the segments counted, as 3/4 (default: %(default)s)")
    parser.add_argument("--segment-bars", type=int, default=4, help="bars per segment (default: %(default)s)")
    parser.add_argument("--any-metre", action="store_true",
                        help="count the segments of every metre, cut into bars of --time-signature")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/valid/test split")
    parser.add_argument("--sha256", help="expected SHA-256 of an archive")
    parser.add_argument("--max-per-style", type=int,
                        help="music21 corpus only: at most N files per style, 0 for all (default: 500)")
    parser.add_argument("--workers", type=int, help="processes (default: one per core)")
    args = parser.parse_args(argv)
    try:  # the segments counted, checked as a model's grid is
        segment_steps = pianoroll.GridFormat(args.steps_per_quarter, time_signature=args.time_signature,
                                             segment_bars=args.segment_bars).validate().segment_steps
    except ValueError as err:
        parser.error(str(err))
    try:
        pieces = build(args.source, args.out, args.styles, args.steps_per_quarter, args.seed,
                       sha256=args.sha256, max_per_style=args.max_per_style, workers=args.workers)
    except (DatasetError, archive.ArchiveError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(format_report(pieces, segment_steps, None if args.any_metre else args.time_signature))
    return 0


if __name__ == "__main__":
    sys.exit(main())
