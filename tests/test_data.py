"""Datasets: folder builds with bad files, the cache, the split, archives, the command line."""
import hashlib
import io
import tarfile
import zipfile

import numpy as np
import pytest

from conftest import STEP, write_midi
from helpers import data, pianoroll
from helpers.archive import ArchiveError, fetch_archive, safe_extract
from helpers.data import DatasetError, PieceSet, build, build_from_folder, split_pieces


def tune(k, bars=6):
    """A one-voice tune of ``bars`` bars of 4/4, different for each ``k``."""
    return [(60 + (k + i) % 12, i * 4 * STEP, (i + 1) * 4 * STEP) for i in range(bars * 4)]


@pytest.fixture
def dataset(tmp_path):
    """Two styles of good files, plus one file of each kind of bad input."""
    root = tmp_path / "songs"
    for k in range(6):
        write_midi(root / "jigs" / f"jig{k}.mid", notes=tune(k), time_signatures=[(0, 6, 8)])
        write_midi(root / "reels" / "set" / f"reel{k}.MIDI", notes=tune(k + 3))
    bad = root / "reels"
    (bad / "empty.mid").write_bytes(b"")
    (bad / "truncated.mid").write_bytes((root / "jigs" / "jig0.mid").read_bytes()[:40])
    (bad / "notmidi.mid").write_text("MThd? no, a text file")
    write_midi(bad / "silent.mid", notes=[])
    write_midi(bad / "drums.mid", drums=tune(0))
    write_midi(bad / "far.mid", notes=[(60, 0, STEP), (60, 10**8, 10**8 + STEP)])
    write_midi(bad / "tempo.mid", notes=tune(1), tempos=[(0, 5000.0)])
    (bad / "notes.txt").write_text("not a MIDI name, ignored")
    (root / "waltzes").mkdir()
    return root


REASONS = {"reels/empty.mid": "empty file", "reels/truncated.mid": "not a readable MIDI file",
           "reels/notmidi.mid": "not a readable MIDI file", "reels/silent.mid": "no notes",
           "reels/drums.mid": "only drum notes", "reels/far.mid": "limit", "reels/tempo.mid": "tempo",
           "waltzes/": "empty folder"}


def test_folder_build_skips_bad_files_with_reasons(dataset, tmp_path):
    pieces = build(dataset, tmp_path / "out", progress=False)
    assert pieces.styles == ["jigs", "reels"]
    assert len(pieces) == 12
    assert sorted(pieces.names)[:2] == ["jigs/jig0.mid", "jigs/jig1.mid"]
    assert "reels/set/reel0.MIDI" in pieces.names
    skipped = dict(pieces.skipped)
    assert set(skipped) == set(REASONS)
    for name, reason in REASONS.items():
        assert reason in skipped[name]
    # Bar lines of the 6/8 jigs: 12 steps a bar.
    jig = pieces.names.index("jigs/jig0.mid")
    assert pieces.piece_downbeats(jig)[:3].tolist() == [0, 12, 24]
    np.testing.assert_array_equal(pieces.piece_notes(jig)[:2], [[60, 0, 4], [61, 4, 8]])


def test_missing_and_empty_sources_are_refused(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        build(tmp_path / "nowhere", tmp_path / "out", progress=False)
    (tmp_path / "empty" / "style").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no MIDI files"):
        build(tmp_path / "empty", tmp_path / "out", progress=False)
    (tmp_path / "bad" / "style").mkdir(parents=True)
    (tmp_path / "bad" / "style" / "x.mid").write_bytes(b"")
    with pytest.raises(DatasetError, match="none of the 1 MIDI files"):
        build(tmp_path / "bad", tmp_path / "out", progress=False)
    with pytest.raises(DatasetError, match="no folder for style"):
        build(tmp_path / "bad", tmp_path / "out", styles=["polka"], progress=False)
    with pytest.raises(ValueError, match="steps_per_quarter"):
        build(tmp_path / "bad", tmp_path / "out", steps_per_quarter=0, progress=False)


def test_second_load_parses_nothing(dataset, tmp_path, monkeypatch):
    first = build(dataset, tmp_path / "out", progress=False)

    def no_parsing(*args, **kwargs):
        raise AssertionError("MIDI parsed on a warm load")

    monkeypatch.setattr(pianoroll, "read_midi", no_parsing)
    second = build(dataset, tmp_path / "out", progress=False)
    assert second.names == first.names
    np.testing.assert_array_equal(second.notes, first.notes)
    np.testing.assert_array_equal(second.split, first.split)
    assert second.skipped == first.skipped
    # A changed setting or a changed file makes a new cache entry.
    monkeypatch.undo()
    finer = build(dataset, tmp_path / "out", steps_per_quarter=8, progress=False)
    assert finer.notes[:, 2].max() == 2 * first.notes[:, 2].max()
    write_midi(dataset / "jigs" / "jig6.mid", notes=tune(9))
    assert len(build(dataset, tmp_path / "out", progress=False)) == 13


def test_parallel_build_gives_the_same_pieces(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "POOL_MIN_FILES", 10)
    root = tmp_path / "many"
    for k in range(80):
        write_midi(root / ("a" if k % 2 else "b") / f"t{k}.mid", notes=tune(k, bars=2))
    one = build_from_folder(root, tmp_path / "c1", workers=1, progress=False)
    two = build_from_folder(root, tmp_path / "c2", workers=2, progress=False)
    assert one.names == two.names
    np.testing.assert_array_equal(one.notes, two.notes)


def test_split_is_by_piece_seeded_and_stratified(dataset, tmp_path):
    pieces = build(dataset, tmp_path / "out", progress=False)
    sets = [set(np.asarray(pieces.names)[pieces.indices(s)]) for s in data.SPLITS]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert sum(map(len, sets)) == len(pieces)
    for style in pieces.styles:  # every style in every split
        for split in data.SPLITS:
            assert len(pieces.indices(split, [style])) >= 1
    style = np.repeat([0, 1], 50)
    names = [f"p{i}" for i in range(100)]
    a, b = split_pieces(style, names, seed=1), split_pieces(style, names, seed=1)
    np.testing.assert_array_equal(a, b)
    assert np.bincount(a).tolist() == [80, 10, 10]
    assert not np.array_equal(a, split_pieces(style, names, seed=2))
    # The order of the listing does not change the split.
    order = np.random.default_rng(0).permutation(100)
    shuffled = split_pieces(style[order], [names[i] for i in order], seed=1)
    np.testing.assert_array_equal(shuffled, a[order])


def test_pieceset_save_load_round_trip(dataset, tmp_path):
    pieces = build(dataset, tmp_path / "out", progress=False)
    pieces.save(tmp_path / "copy")
    again = PieceSet.load(tmp_path / "copy")
    assert again.names == pieces.names and again.skipped == pieces.skipped and again.settings == pieces.settings
    np.testing.assert_array_equal(again.downbeats, pieces.downbeats)


# ---------------------------------------------------------------- archives

def zip_of(dataset, path, extra=()):
    with zipfile.ZipFile(path, "w") as z:
        for f in sorted(p for p in dataset.rglob("*") if p.is_file()):
            z.write(f, "top/" + f.relative_to(dataset).as_posix())
        for name, content in extra:
            z.writestr(name, content)
    return path


def test_archive_source_zip_and_tar(dataset, tmp_path):
    archive = zip_of(dataset, tmp_path / "songs.zip")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    pieces = build(str(archive), tmp_path / "out", sha256=digest, progress=False)
    assert pieces.styles == ["jigs", "reels"] and len(pieces) == 12
    tar = tmp_path / "songs.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        t.add(dataset, arcname="songs")
    assert len(build(str(tar), tmp_path / "out", progress=False)) == 12


def test_archive_checksum_is_checked(dataset, tmp_path):
    archive = zip_of(dataset, tmp_path / "songs.zip")
    with pytest.raises(ArchiveError, match="SHA-256"):
        build(str(archive), tmp_path / "out", sha256="0" * 64, progress=False)
    with pytest.raises(ArchiveError, match="no such archive"):
        fetch_archive(tmp_path / "missing.zip", tmp_path / "out")


@pytest.mark.parametrize("member", ["../evil.mid", "a/../../evil.mid", "/tmp/evil.mid"])
def test_unsafe_zip_members_are_refused(dataset, tmp_path, member):
    archive = zip_of(dataset, tmp_path / "bad.zip", extra=[(member, b"MThd")])
    with pytest.raises(ArchiveError, match="outside the target folder"):
        safe_extract(archive, tmp_path / "x" / "target")
    assert not (tmp_path / "x" / "target").exists() and not (tmp_path / "x" / "evil.mid").exists()


def test_unsafe_tar_members_are_refused(tmp_path):
    def tar_with(name, member):
        path = tmp_path / name
        with tarfile.open(path, "w") as t:
            t.addfile(member, io.BytesIO(b"MThd") if member.isfile() else None)
        return path

    up = tarfile.TarInfo("../up.mid")
    up.size = 4
    link = tarfile.TarInfo("style/link.mid")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(ArchiveError, match="outside the target folder"):
        safe_extract(tar_with("up.tar", up), tmp_path / "t1")
    with pytest.raises(ArchiveError, match="link"):
        safe_extract(tar_with("link.tar", link), tmp_path / "t2")
    assert not (tmp_path / "up.mid").exists()
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"neither zip nor tar")
    with pytest.raises(ArchiveError, match="not a readable"):
        safe_extract(junk, tmp_path / "t3")


# ---------------------------------------------------------------- command line

def test_command_line_report(dataset, tmp_path, capsys):
    assert data.main([str(dataset), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "jigs" in out and "reels" in out
    for name in REASONS:
        assert name in out
    assert "8 file(s) skipped" in out
    row = lambda style: next(line for line in out.splitlines() if line.startswith(style)).split()  # noqa: E731
    # 6 pieces of 96 steps, 8 bars of 6/8 (12 steps): 64-step segments from steps 0, 12, 24, 3 each, none with the
    # bar lines of 4/4: counted as of another metre; the reels (4/4 by default) are all in it.
    assert row("jigs") == ["jigs", "6", "4", "1", "1", "0", "18", "0"]
    assert int(row("reels")[5]) > 0 and row("reels")[6] == "0"
    assert "other metre" in out and "DataConfig.time_signature" in out
    # In 6/8: four bars are 48 steps, from steps 0, 12, 24, 36, 48 (48 + 48 = 96 fits) -> 5 each.
    assert data.main([str(dataset), "--out", str(tmp_path / "out"), "--time-signature", "6/8"]) == 0
    out = capsys.readouterr().out
    assert row("jigs") == ["jigs", "6", "4", "1", "1", "30", "0", "0"]
    # --any-metre: the old count, every metre cut into 4/4, with no metre column.
    assert data.main([str(dataset), "--out", str(tmp_path / "out"), "--any-metre"]) == 0
    out = capsys.readouterr().out
    assert row("jigs") == ["jigs", "6", "4", "1", "1", "18", "0"]


def test_command_line_refuses_a_bad_time_signature(dataset, tmp_path, capsys):
    with pytest.raises(SystemExit):
        data.main([str(dataset), "--out", str(tmp_path / "out"), "--time-signature", "3-4"])
    assert "--time-signature" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        data.main([str(dataset), "--out", str(tmp_path / "out"), "--time-signature", "5/8", "--steps-per-quarter", "1"])
    assert "not a whole number of steps" in capsys.readouterr().err


def test_command_line_fails_only_when_nothing_is_usable(tmp_path, capsys):
    assert data.main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 1
    assert "no such folder" in capsys.readouterr().err


# ---------------------------------------------------------------- large corpora: shards, resume, memory maps

def many_files(root, n):
    for k in range(n):
        write_midi(root / ("a" if k % 2 else "b") / f"t{k:03d}.mid", notes=tune(k, bars=2))
    (root / "a" / "broken.mid").write_bytes(b"MThd but nothing")
    return root


def test_an_interrupted_build_resumes_after_its_last_shard(tmp_path, monkeypatch):
    root = many_files(tmp_path / "many", 45)  # 46 files: shards of 10, 10, 10, 10, 6
    monkeypatch.setattr(data, "SHARD_FILES", 10)
    straight = build_from_folder(root, tmp_path / "c1", workers=1, progress=False)
    read, calls = data._read_one, []

    def dies_at_the_25th(job):
        calls.append(job)
        if len(calls) == 25:
            raise RuntimeError("killed")
        return read(job)

    monkeypatch.setattr(data, "_read_one", dies_at_the_25th)
    with pytest.raises(RuntimeError, match="killed"):
        build_from_folder(root, tmp_path / "c2", workers=1, progress=False)
    calls.clear()
    monkeypatch.setattr(data, "_read_one", lambda job: calls.append(job) or read(job))
    resumed = build_from_folder(root, tmp_path / "c2", workers=1, progress=False)
    assert len(calls) == 46 - 20  # the two finished shards were not read again
    assert resumed.names == straight.names and resumed.skipped == straight.skipped
    assert len(resumed) == 45 and [f for f, _ in resumed.skipped] == ["a/broken.mid"]
    for name in ("notes", "downbeats", "note_offsets", "split", "style", "low", "high"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(straight, name), err_msg=name)
    assert not list((tmp_path / "c2").rglob("shards"))  # joined, then removed


def test_shards_join_into_the_same_pieces_as_one_shard(tmp_path, monkeypatch):
    root = many_files(tmp_path / "many", 23)
    one = build_from_folder(root, tmp_path / "one", workers=1, progress=False)
    monkeypatch.setattr(data, "SHARD_FILES", 4)
    many = build_from_folder(root, tmp_path / "four", workers=1, progress=False)
    assert many.names == one.names and many.pitch_range() == one.pitch_range()
    for i in range(len(one)):
        np.testing.assert_array_equal(many.piece_notes(i), one.piece_notes(i))
        np.testing.assert_array_equal(many.piece_downbeats(i), one.piece_downbeats(i))


def test_a_loaded_cache_is_memory_mapped_and_reading_it_does_not_grow_memory(tmp_path):
    import tracemalloc

    from helpers.pianoroll import GridFormat
    from helpers.segments import SegmentDataset

    root = many_files(tmp_path / "many", 120)
    build_from_folder(root, tmp_path / "cache", workers=1, progress=False)
    pieces = build_from_folder(root, tmp_path / "cache", workers=1, progress=False)  # warm: loaded
    assert isinstance(pieces.notes, np.memmap) and isinstance(pieces.downbeats, np.memmap)
    segments = SegmentDataset(pieces, None, GridFormat(low=50, high=80, segment_bars=1))

    def peak_reading(n):
        tracemalloc.start()
        for i in range(n):
            segments[i % len(segments)]
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    few, many = peak_reading(20), peak_reading(len(segments) * 3)
    assert many < 2 * few + 200_000, (few, many)  # reading every piece three times holds no more than a few


def _build_in_child(root, cache_dir, out):
    pieces = build_from_folder(root, cache_dir, workers=1, progress=False)
    out.put((pieces.names, pieces.notes.sum().item()))


def test_processes_building_one_cache_at_once_all_get_it(tmp_path, monkeypatch):
    """Three processes asked for the same new cache at once: one builds it, the others wait and load it
    (before, they removed each other's shards and failed)."""
    import multiprocessing

    root = many_files(tmp_path / "many", 60)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    monkeypatch.setattr(data, "SHARD_FILES", 5)  # many shards: a long window for the processes to collide in
    children = [ctx.Process(target=_build_in_child, args=(root, tmp_path / "cache", out)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
    assert [child.exitcode for child in children] == [0, 0, 0]
    results = [out.get(timeout=5) for _ in children]
    straight = build_from_folder(root, tmp_path / "alone", workers=1, progress=False)
    assert all(r == (straight.names, straight.notes.sum().item()) for r in results)


def test_a_file_system_without_locks_still_builds(tmp_path, monkeypatch):
    import fcntl

    def refuse(*args):
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(fcntl, "flock", refuse)
    root = many_files(tmp_path / "many", 4)
    assert len(build_from_folder(root, tmp_path / "cache", workers=1, progress=False)) == 4
