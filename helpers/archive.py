"""Datasets packed as zip or tar archives: fetch, check, extract safely.

An archive is given by a local path or an ``http(s)://`` URL, with an optional
SHA-256 that is checked before anything is extracted. Extraction refuses the
whole archive if any member could write outside its target folder (an
absolute path, a ``..`` component, a link, a device file).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


class ArchiveError(ValueError):
    """An archive that cannot be used; the message names it and says why."""


def is_url(source) -> bool:
    return isinstance(source, str) and urllib.parse.urlparse(source).scheme in ("http", "https")


def is_archive(source) -> bool:
    name = urllib.parse.urlparse(source).path if is_url(source) else os.fspath(source)
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, folder) -> Path:
    """Download ``url`` into ``folder`` (once: an existing file is reused)."""
    name = PurePosixPath(urllib.parse.urlparse(url).path).name or "archive"
    target = Path(folder) / name
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as f:
            shutil.copyfileobj(response, f)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise ArchiveError(f"{url}: download failed ({err})") from None
    partial.replace(target)
    return target


def _check_member(archive, name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ArchiveError(f"{archive}: member {name!r} would be written outside the target folder; "
                           "the archive is refused")


def _members(archive: Path):
    """Yield ``(name, is_regular_or_dir)`` for every member, refusing what is unsafe."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                mode = info.external_attr >> 16
                if mode and (mode & 0o170000) == 0o120000:
                    raise ArchiveError(f"{archive}: member {info.filename!r} is a symbolic link; "
                                       "the archive is refused")
                yield info.filename
    else:
        try:
            with tarfile.open(archive) as t:
                for m in t.getmembers():
                    if not (m.isfile() or m.isdir()):
                        raise ArchiveError(f"{archive}: member {m.name!r} is a link or device, not a "
                                           "file; the archive is refused")
                    yield m.name
        except tarfile.TarError as err:
            raise ArchiveError(f"{archive}: not a readable zip or tar archive ({err})") from None


def safe_extract(archive, target) -> Path:
    """Extract ``archive`` into ``target`` after checking every member.

    Raises
    ------
    ArchiveError
        A member would land outside ``target`` (``../``, absolute path, link),
        or the file is not a zip or tar archive. Nothing is extracted then.
    """
    archive, target = Path(archive), Path(target)
    for name in _members(archive):
        _check_member(archive, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".extract-"))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                z.extractall(tmp)
        else:
            with tarfile.open(archive) as t:
                t.extractall(tmp, filter="data")  # the stdlib's own guard, on top of ours
        shutil.rmtree(target, ignore_errors=True)
        tmp.replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def dataset_root(folder: Path) -> Path:
    """The folder that holds the style subfolders: descend through lone wrapper folders."""
    while True:
        entries = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
        if len(entries) == 1 and entries[0].is_dir():
            folder = entries[0]
        else:
            return folder


def fetch_archive(source, out, sha256: str | None = None) -> Path:
    """Fetch (if a URL), check and extract an archive; return its dataset root.

    Parameters
    ----------
    source : str or path
        Local archive path or ``http(s)`` URL.
    out : path
        Data folder: downloads go to ``<out>/downloads``, extractions to
        ``<out>/archives/<name>-<sha256 prefix>``, so a changed archive is
        extracted afresh and an unchanged one only once.
    sha256 : str, optional
        Expected SHA-256 of the archive file (hex).
    """
    out = Path(out)
    path = download(source, out / "downloads") if is_url(source) else Path(source)
    if not path.is_file():
        raise ArchiveError(f"{path}: no such archive")
    digest = sha256_of(path)
    if sha256 and digest != sha256.strip().lower():
        raise ArchiveError(f"{source}: SHA-256 is {digest}, expected {sha256}")
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    target = out / "archives" / f"{name}-{digest[:12]}"
    if not (target / ".extracted").exists():
        safe_extract(path, target)
        (target / ".extracted").write_text(digest)
    return dataset_root(target)
