"""The embedded default dataset: the score corpus inside the ``music21`` package.

Each style is a repertoire of that corpus. :func:`export_corpus` writes every
piece once as a MIDI file under ``<out>/<style>/``, after which the corpus is
an ordinary folder dataset (see :mod:`helpers.data`).

The notes are taken from the parsed scores and written with ``symusic``, not
with music21's own MIDI writer, which is slow and has traps we step around:

- grace notes and chord symbols are left out (music21 writes them as
  zero-length notes whose note-off comes first, which readers keep sounding);
- repeats are not expanded (expanding can blow a tune up a hundredfold);
- a pickup bar is padded with rests to a full bar, so that bar lines in the
  MIDI file fall on the score's real downbeats;
- ties are merged into one note, and notes of one pitch in one part never
  overlap (the earlier one ends where the later one starts);
- 480 ticks per quarter note, which keeps files far below the tick limit of
  ``pretty_midi`` (music21 writes 10,080 ticks per quarter note).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

TPQ = 480
DEFAULT_QPM = 100.0
EXPORT_VERSION = 1

# style -> glob patterns relative to music21's corpus folder.
STYLES = {
    "bach": ("bach/*.mxl", "bach/*.xml", "bach/*.krn"),           # chorales, four voices
    "palestrina": ("palestrina/*.krn",),                           # mass movements, 4-6 voices
    "monteverdi": ("monteverdi/*.mxl",),                           # madrigals, five voices
    "trecento": ("trecento/*.xml", "trecento/*.mxl"),             # 14th-century Italian, 2-3 voices
    "folk": ("ryansMammoth/*.abc",),                               # fiddle tunes, one voice
    "oneills": ("oneills1850/*.abc",),                             # Irish tunes, one voice
    "essen": ("essenFolksong/*.abc",),                             # German folk songs (slow: ~8,000 tunes)
}
DEFAULT_STYLES = ("bach", "palestrina", "monteverdi", "trecento", "folk")
# At most this many corpus files per style by default: keeps the styles closer in size
# and the cold build within a few minutes on two cores (Palestrina alone has 1,318 files).
DEFAULT_MAX_PER_STYLE = 500


def corpus_root() -> Path:
    """The folder of music21's bundled corpus."""
    import music21

    return Path(music21.__file__).parent / "corpus"


def corpus_items(styles=DEFAULT_STYLES, max_per_style: int | None = DEFAULT_MAX_PER_STYLE) -> list[tuple[str, str]]:
    """``(style, path relative to the corpus root)`` of the files of the chosen styles.

    With ``max_per_style`` (``None`` or 0: no limit), a style with more files
    keeps a fixed, seeded sample of that many, spread over the whole repertoire.
    """
    unknown = [s for s in styles if s not in STYLES]
    if unknown:
        raise ValueError(f"unknown corpus style(s) {unknown}; choose from {sorted(STYLES)}")
    root = corpus_root()
    items = []
    for style in styles:
        chosen, stems = [], set()
        for pattern in STYLES[style]:
            for p in sorted(root.glob(pattern)):
                # A few pieces ship in two formats: keep the first, so no piece is in two splits.
                if p.stem not in stems:
                    stems.add(p.stem)
                    chosen.append(p.relative_to(root).as_posix())
        if max_per_style and len(chosen) > max_per_style:
            keep = np.random.default_rng(0).permutation(len(chosen))[:max_per_style]
            chosen = [chosen[i] for i in sorted(keep)]
        items += [(style, rel) for rel in chosen]
    return items


def _part_notes(part, shift: float) -> np.ndarray:
    """``(N, 3)`` float rows ``(pitch, start, end)`` in quarter notes of one part, ties merged."""
    from music21 import harmony, note

    rows = []
    tied = {}  # pitch -> row of a note whose tie goes on
    for el in part.flatten().notes:
        if isinstance(el, harmony.Harmony) or el.duration.isGrace:
            continue
        length = float(el.duration.quarterLength)
        if length <= 0:
            continue
        start = float(el.offset) + shift
        for n in (el.notes if el.isChord else [el]):
            if not isinstance(n, note.Note):
                continue  # unpitched percussion
            pitch = n.pitch.midi
            tie = n.tie if n.tie is not None else (el.tie if el.isChord else None)
            kind = tie.type if tie is not None else None
            i = tied.get(pitch)
            if kind in ("stop", "continue") and i is not None and abs(rows[i][2] - start) < 1e-6:
                rows[i][2] = start + length
            else:
                rows.append([pitch, start, start + length])
                i = len(rows) - 1
            if kind in ("start", "continue"):
                tied[pitch] = i
            else:
                tied.pop(pitch, None)
    return np.array(rows, dtype=float).reshape(-1, 3)


def _no_overlaps(ticks: np.ndarray) -> np.ndarray:
    """Cut notes of one pitch so none overlaps the next: ``(N, 3)`` int rows in, rows out."""
    ticks = ticks[np.lexsort((-ticks[:, 2], ticks[:, 1], ticks[:, 0]))]
    same = ticks[1:, 0] == ticks[:-1, 0]
    ticks[:-1, 2] = np.where(same, np.minimum(ticks[:-1, 2], ticks[1:, 1]), ticks[:-1, 2])
    return ticks[ticks[:, 2] > ticks[:, 1]]


def score_to_midi(score, path) -> int:
    """Write one music21 score as a MIDI file; return its number of notes."""
    import symusic
    from music21 import meter, stream, tempo

    parts = list(score.parts) or [score]
    first_measure = parts[0].getElementsByClass(stream.Measure).first()
    shift = float(first_measure.paddingLeft) if first_measure is not None else 0.0

    out = symusic.Score(TPQ)
    n_notes = 0
    for k, part in enumerate(parts):
        ticks = np.rint(_part_notes(part, shift) * [1, TPQ, TPQ]).astype(np.int64)
        ticks = _no_overlaps(ticks)
        if not len(ticks):
            continue
        track = symusic.Track(name=part.partName or f"part {k + 1}", program=0, is_drum=False)
        for p, s, e in ticks.tolist():
            track.notes.append(symusic.Note(s, e - s, p, 80))
        out.tracks.append(track)
        n_notes += len(ticks)
    if n_notes == 0:
        raise ValueError("no pitched notes in the score")

    marks = score.flatten().getElementsByClass(tempo.MetronomeMark)
    qpm = marks.first().getQuarterBPM() if len(marks) else None
    out.tempos.append(symusic.Tempo(0, qpm=float(qpm) if qpm and qpm > 0 else DEFAULT_QPM))
    seen = set()
    for ts in parts[0].flatten().getElementsByClass(meter.TimeSignature):
        tick = 0 if ts.offset == 0 else int(round((float(ts.offset) + shift) * TPQ))
        if tick not in seen:
            seen.add(tick)
            out.time_signatures.append(symusic.TimeSignature(tick, ts.numerator, ts.denominator))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    out.dump_midi(str(path))
    return n_notes


def export_item(item: tuple[str, str], out: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Export one corpus file (one score, or an opus of several) to ``<out>/<style>/``.

    Returns
    -------
    written : list of str
        The MIDI files written.
    skipped : list of (str, str)
        ``(corpus file, reason)`` for every score that could not be exported.
    """
    from music21 import converter, stream

    style, rel = item
    written, skipped = [], []
    try:
        parsed = converter.parse(str(corpus_root() / rel), forceSource=True)
    except Exception as err:  # music21 raises many kinds of errors on bad scores
        return [], [(f"{style}/{rel}", f"music21 could not parse it: {type(err).__name__}: {err}")]
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    stem = Path(rel).stem.replace(" ", "_")
    for i, score in enumerate(scores):
        name = f"{stem}-{i + 1:04d}.mid" if len(scores) > 1 else f"{stem}.mid"
        target = Path(out) / style / name
        try:
            score_to_midi(score, target)
            written.append(str(target))
        except Exception as err:
            label = f"{style}/{rel}" + (f" (score {i + 1})" if len(scores) > 1 else "")
            skipped.append((label, f"could not export: {type(err).__name__}: {err}"))
    return written, skipped


def _export_star(args):
    item, out = args
    return (item[0], *export_item(item, out))


def export_folder(max_per_style: int | None) -> str:
    """The data folder's subfolder of an export with this file limit: ``music21`` for the default limit,
    ``music21-<limit>`` (``music21-all`` without one) for any other, so that a small trial run never
    replaces the default export, nor the default run a trial's."""
    if max_per_style == DEFAULT_MAX_PER_STYLE:
        return "music21"
    return f"music21-{max_per_style or 'all'}"


def _export_styles(out: Path, todo, wanted: dict, max_per_style, workers, progress) -> dict:
    """Export the styles ``todo`` afresh; returns each one's record (``export.json``)."""
    from multiprocessing import Pool

    from tqdm.auto import tqdm

    if not todo:
        return {}
    items = corpus_items(todo, max_per_style)
    root = corpus_root()
    for style in todo:  # a fresh export leaves no file of an older one behind
        shutil.rmtree(out / style, ignore_errors=True)
    items.sort(key=lambda it: -os.path.getsize(root / it[1]))  # big files first balances the pool
    records = {style: dict(wanted, files=0, skipped=[]) for style in todo}
    workers = min(workers or os.cpu_count() or 1, max(len(items), 1))
    with Pool(workers) as pool:
        jobs = pool.imap_unordered(_export_star, [(it, str(out)) for it in items])
        for style, written, skipped in tqdm(jobs, total=len(items), desc="music21 corpus -> MIDI",
                                            disable=not progress):
            records[style]["files"] += len(written)
            records[style]["skipped"] += skipped
    for style, record in records.items():
        record["skipped"].sort()
        (out / style).mkdir(parents=True, exist_ok=True)
        (out / style / "export.json").write_text(json.dumps(record, indent=1))
    return records


def export_corpus(out, styles=DEFAULT_STYLES, max_per_style: int | None = DEFAULT_MAX_PER_STYLE,
                  workers: int | None = None, progress: bool = True) -> dict:
    """Export the chosen styles of the music21 corpus to MIDI, each style once.

    A finished style leaves ``<out>/<style>/export.json``; a later call finds
    it (same file limit, same music21 version) and exports only the styles
    that are missing, so notebooks that use different styles share one export.

    Parameters
    ----------
    out : path
        Folder that receives ``<style>/*.mid``.
    styles : sequence of str
        Keys of :data:`STYLES`.
    max_per_style : int, optional
        At most this many corpus files per style (``None`` or 0: all).
    workers : int, optional
        Processes; by default one per core.

    Returns
    -------
    dict
        ``{"styles": [...], "files": n, "skipped": [[file, reason], ...]}`` over all the styles.
    """
    import music21

    from .data import exclusive

    out = Path(out)
    wanted = {"max_per_style": max_per_style or 0, "music21": music21.__version__, "version": EXPORT_VERSION}

    def missing():
        done, todo = {}, []
        for style in styles:
            marker = out / style / "export.json"
            record = json.loads(marker.read_text()) if marker.exists() else {}
            if {k: record.get(k) for k in wanted} == wanted:
                done[style] = record
            else:
                todo.append(style)
        return done, todo

    done, todo = missing()
    if todo:
        with exclusive(out / ".music21-export"):
            done, todo = missing()  # another process may have exported them while this one waited
            done.update(_export_styles(out, todo, wanted, max_per_style, workers, progress))
    return {"styles": list(styles), "files": sum(done[s]["files"] for s in styles),
            "skipped": [tuple(x) for s in styles for x in done[s]["skipped"]]}
