"""Where things live: Google Drive inside Colab, local folders elsewhere.

In Colab, Drive is mounted at ``/content/drive`` and the dataset cache, the
run folders and the checkpoints all live under ``MyDrive/<project>/``, so a
disconnected runtime resumes where it stopped. Elsewhere the same folders are
``data/`` and ``runs/`` under the repository (or ``root``). The Drive mount
point is never created outside Colab.
"""
from __future__ import annotations

import sys
from pathlib import Path

DRIVE_MOUNT = "/content/drive"


def in_colab() -> bool:
    """True inside a Colab runtime (its kernel has ``google.colab`` imported from the start)."""
    return "google.colab" in sys.modules


def repo_root(start=None) -> Path:
    """The repository folder: the nearest folder upwards holding ``helpers/``, else the current one."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "helpers" / "__init__.py").is_file():
            return folder
    return here


def paths(project: str = "gridvae", root=None, use_drive: bool = True) -> dict:
    """``{"data": ..., "runs": ...}`` folders, created if needed.

    In Colab (and ``use_drive``) they are on Drive, which is mounted first;
    otherwise under ``root`` (default: the repository).
    """
    if in_colab() and use_drive and root is None:
        from google.colab import drive

        drive.mount(DRIVE_MOUNT)
        base = Path(DRIVE_MOUNT) / "MyDrive" / project
    else:
        base = Path(root) if root is not None else repo_root()
    found = {"data": base / "data", "runs": base / "runs"}
    for folder in found.values():
        folder.mkdir(parents=True, exist_ok=True)
    return found


def run_folders(run_name: str, data_dir=None, runs_dir=None) -> tuple[Path, Path]:
    """``(data folder, run folder)`` for a notebook: the given folders, else :func:`paths` (Drive in Colab)."""
    if not run_name or "/" in run_name or run_name in (".", ".."):
        raise ValueError(f"RUN_NAME must be a plain folder name, got {run_name!r}")
    found = paths() if data_dir is None or runs_dir is None else {}
    data = Path(data_dir or found["data"])
    run = Path(runs_dir or found["runs"]) / run_name
    print(f"data: {data}\nrun:  {run}")
    return data, run
