"""Datasets of style-labelled pieces: build, cache, split, segment, load.

A dataset comes from one of three sources:

1. ``"music21"`` (the default): the corpus shipped inside the ``music21``
   package, exported once to MIDI in style subfolders (:mod:`helpers.corpus`);
2. a folder ``<root>/<style>/**/*.mid`` (or ``.midi``): the subfolder names are
   the styles; files directly in ``<root>`` take the root's own name;
3. a zip or tar archive, by path or URL, with an optional SHA-256
   (:mod:`helpers.archive`), whose content is such a folder.

Every readable file becomes a piece (its notes on the step grid and its bar
lines, see :mod:`helpers.pianoroll`). The pieces are cached in one ``.npz``
keyed by every setting that changes them, so the second load of an unchanged
dataset parses no MIDI. The split into train/valid/test is by piece, seeded,
stratified by style, and saved in the cache. A file that cannot be read is
skipped with its reason; one bad file never stops a build.

Command line::

    python -m helpers.data [SOURCE] [--out DIR] [--styles bach folk ...]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from . import archive, pianoroll
from .pianoroll import MAX_STEPS, STEPS_PER_QUARTER

CACHE_VERSION = 1
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
        if indices is None:
            pitches = self.notes[:, 0]
        else:
            pitches = np.concatenate([self.piece_notes(i)[:, 0] for i in indices])
        return int(pitches.min()), int(pitches.max())

    def save(self, path) -> None:
        """Write ``path`` (``.npz``) and its ``.json`` sidecar, each atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {k: getattr(self, k) for k in ("style", "n_steps", "split", "notes", "note_offsets",
                                                 "downbeats", "downbeat_offsets")}
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        meta = {"styles": self.styles, "names": self.names, "skipped": self.skipped, "settings": self.settings}
        tmp_json = path.with_suffix(".json.tmp")
        tmp_json.write_text(json.dumps(meta))
        tmp_json.replace(path.with_suffix(".json"))
        tmp.replace(path)  # the .npz last: it marks the cache complete

    @classmethod
    def load(cls, path) -> "PieceSet":
        path = Path(path)
        meta = json.loads(path.with_suffix(".json").read_text())
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta["skipped"] = [tuple(s) for s in meta["skipped"]]
        return cls(**meta, **arrays)

    def summary(self, segment_steps: int = SEGMENT_STEPS) -> list[dict]:
        """Per style: pieces (and per split), segments and skipped files."""
        rows = []
        for k, style in enumerate(self.styles):
            idx = np.flatnonzero(self.style == k)
            row = {"style": style, "pieces": len(idx)}
            for s, name in enumerate(SPLITS):
                row[name] = int((self.split[idx] == s).sum())
            row["segments"] = int(sum(len(segment_starts(self, i, segment_steps)) for i in idx))
            row["skipped"] = sum(1 for f, _ in self.skipped if f.split("/")[0] == style)
            rows.append(row)
        return rows


def segment_starts(pieces: PieceSet, i: int, segment_steps: int = SEGMENT_STEPS, hop_bars: int = 1) -> np.ndarray:
    """Start steps of the segments of piece ``i``: every ``hop_bars``-th downbeat
    whose segment fits inside the piece and holds at least one note."""
    notes = pieces.piece_notes(i)
    n = int(pieces.n_steps[i])
    starts = pieces.piece_downbeats(i)[::hop_bars]
    starts = starts[starts + segment_steps <= n]
    if not len(starts):
        return starts
    # Steps with any note sounding, as a running count, to find silent segments.
    diff = np.zeros(n + 1, np.int32)
    np.add.at(diff, notes[:, 1], 1)
    np.add.at(diff, notes[:, 2], -1)
    sounding = np.concatenate([[0], np.cumsum(np.cumsum(diff[:-1]) > 0)])
    return starts[sounding[starts + segment_steps] > sounding[starts]]


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
            raise DatasetError(f"{root}: no folder for style(s) {missing}; found {[p.name for p in folders]}")
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


def build_from_folder(root, cache_dir, styles=None, steps_per_quarter: int = STEPS_PER_QUARTER,
                      seed: int = 0, fractions=(0.8, 0.1, 0.1), max_steps: int = MAX_STEPS,
                      workers: int | None = None, progress: bool = True, extra_skipped=()) -> PieceSet:
    """Build (or load from cache) the pieces of a folder of style subfolders."""
    from tqdm.auto import tqdm

    root = Path(root)
    files, skipped = list_midi_files(root, styles)
    settings = {"steps_per_quarter": steps_per_quarter, "max_steps": max_steps, "seed": seed,
                "fractions": list(fractions), "version": CACHE_VERSION}
    key = _fingerprint(files, root, settings)
    cache = Path(cache_dir) / f"{root.name}-{key}.npz"
    if cache.exists():
        return PieceSet.load(cache)
    if not files:
        raise DatasetError(f"{root}: no MIDI files (*.mid, *.midi) in it or its style folders")

    jobs = [(str(p), steps_per_quarter, max_steps) for _, p in files]
    workers = workers or os.cpu_count() or 1
    bar = dict(total=len(jobs), desc=f"MIDI -> grids ({root.name})", disable=not progress, unit="file")
    if workers > 1 and len(jobs) >= POOL_MIN_FILES:
        with Pool(workers) as pool:
            results = list(tqdm(pool.imap(_read_one, jobs, chunksize=32), **bar))
    else:
        results = [_read_one(j) for j in tqdm(jobs, **bar)]

    style_names = sorted({s for s, _ in files})
    names, style, n_steps, notes, downbeats = [], [], [], [], []
    for (s, p), result in zip(files, results):
        rel = p.relative_to(root).as_posix()
        if isinstance(result, str):
            skipped.append((rel, result.removeprefix(f"{p}: ")))
            continue
        names.append(rel)
        style.append(style_names.index(s))
        notes.append(result[0])
        downbeats.append(result[1])
        n_steps.append(result[2])
    if not names:
        reasons = "; ".join(f"{f}: {r}" for f, r in skipped[:5])
        raise DatasetError(f"{root}: none of the {len(files)} MIDI files could be read ({reasons})")
    used = sorted(set(style))  # a style whose files all failed is dropped
    style = np.searchsorted(used, style).astype(np.int16)
    pieces = PieceSet(
        styles=[style_names[k] for k in used], names=names, style=style,
        n_steps=np.array(n_steps, np.int32), split=split_pieces(style, names, seed, fractions),
        notes=np.concatenate(notes).astype(np.int32),
        note_offsets=np.cumsum([0] + [len(n) for n in notes]).astype(np.int64),
        downbeats=np.concatenate(downbeats).astype(np.int32),
        downbeat_offsets=np.cumsum([0] + [len(d) for d in downbeats]).astype(np.int64),
        skipped=list(extra_skipped) + sorted(skipped), settings=dict(settings, root=str(root), key=key),
    )
    pieces.save(cache)
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
        Data folder: corpus export, downloads, extracted archives, ``cache/``.
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
        export = corpus.export_corpus(out / "music21", styles, limit, workers, progress)
        extra = [tuple(s) for s in export["skipped"]]
        return build_from_folder(out / "music21", styles=styles, extra_skipped=extra, **common)
    if archive.is_url(source) or archive.is_archive(source):
        root = archive.fetch_archive(source, out, sha256)
        return build_from_folder(root, styles=styles, **common)
    return build_from_folder(Path(source), styles=styles, **common)


# --------------------------------------------------------------------------- command line

def format_report(pieces: PieceSet, segment_steps: int = SEGMENT_STEPS) -> str:
    """The table the command line prints: per style pieces, splits, segments, skipped; then each skip."""
    rows = pieces.summary(segment_steps)
    head = f"{'style':<16}{'pieces':>8}{'train':>8}{'valid':>8}{'test':>8}{'segments':>10}{'skipped':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['style']:<16}{r['pieces']:>8}{r['train']:>8}{r['valid']:>8}{r['test']:>8}"
                     f"{r['segments']:>10}{r['skipped']:>9}")
    total = {k: sum(r[k] for r in rows) for k in ("pieces", "train", "valid", "test", "segments")}
    lines.append(f"{'total':<16}{total['pieces']:>8}{total['train']:>8}{total['valid']:>8}{total['test']:>8}"
                 f"{total['segments']:>10}{len(pieces.skipped):>9}")
    lines.append(f"segments: {segment_steps} steps at {pieces.settings['steps_per_quarter']} steps per quarter, "
                 "starting on a downbeat")
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
    parser.add_argument("--segment-steps", type=int, default=SEGMENT_STEPS)
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/valid/test split")
    parser.add_argument("--sha256", help="expected SHA-256 of an archive")
    parser.add_argument("--max-per-style", type=int,
                        help="music21 corpus only: at most N files per style, 0 for all (default: 500)")
    parser.add_argument("--workers", type=int, help="processes (default: one per core)")
    args = parser.parse_args(argv)
    try:
        pieces = build(args.source, args.out, args.styles, args.steps_per_quarter, args.seed,
                       sha256=args.sha256, max_per_style=args.max_per_style, workers=args.workers)
    except (DatasetError, archive.ArchiveError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(format_report(pieces, args.segment_steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
