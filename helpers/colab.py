"""Where things live: Google Drive inside Colab, local folders elsewhere.

In Colab, Drive is mounted at ``/content/drive`` and the dataset cache, the
run folders and the checkpoints all live under ``MyDrive/<project>/``, so a
disconnected runtime resumes where it stopped. Drive is optional: with
``use_drive=False``, or when its authorisation is declined, the folders go on
the runtime's own disk (``/content/<project>``), with a warning that they
vanish with the runtime. Elsewhere the same folders are ``data/`` and
``runs/`` under the repository (or ``root``). The Drive mount point is never
created outside Colab.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

DRIVE_MOUNT = os.environ.get("GRIDVAE_DRIVE_MOUNT", "/content/drive")  # where Colab mounts Drive


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


def mount_drive(project: str = "gridvae") -> Path | None:
    """Mount Drive (Colab asks for authorisation) and return ``MyDrive/<project>``; ``None`` if it failed."""
    from google.colab import drive

    try:
        drive.mount(DRIVE_MOUNT)
    except Exception as err:  # declined, timed out, or Drive unavailable: carry on without it
        print(f"warning: Google Drive was not mounted ({type(err).__name__}: {err})")
        return None
    return Path(DRIVE_MOUNT) / "MyDrive" / project


def paths(project: str = "gridvae", root=None, use_drive: bool = True) -> dict:
    """``{"data": ..., "runs": ...}`` folders, created if needed.

    In Colab they are on Drive (mounted first) when ``use_drive`` and the
    mount succeeds, else on the runtime's disk with a warning; outside Colab
    under ``root`` (default: the repository).
    """
    if in_colab() and root is None:
        base = mount_drive(project) if use_drive else None
        if base is None:
            base = Path.cwd() / project
            print(f"warning: data and runs go to {base} on this runtime's disk; they vanish when the runtime "
                  "is recycled: download what you want to keep (USE_DRIVE = True keeps them on Drive)")
    else:
        base = Path(root) if root is not None else repo_root()
    found = {"data": base / "data", "runs": base / "runs"}
    for folder in found.values():
        folder.mkdir(parents=True, exist_ok=True)
    return found


def run_folders(run_name: str, data_dir=None, runs_dir=None, use_drive: bool = True) -> tuple[Path, Path]:
    """``(data folder, run folder)`` for a notebook: the given folders, else :func:`paths` (Drive in Colab)."""
    if not run_name or "/" in run_name or run_name in (".", ".."):
        raise ValueError(f"RUN_NAME must be a plain folder name, got {run_name!r}")
    found = paths(use_drive=use_drive) if data_dir is None or runs_dir is None else {}
    data = Path(data_dir or found["data"])
    run = Path(runs_dir or found["runs"]) / run_name
    print(f"data: {data}\nrun:  {run}")
    return data, run


def check_runtime(device) -> None:
    """Warn when a notebook runs without a GPU (and say how to get Colab's free one)."""
    if str(device).startswith("cuda"):
        return
    where = ("Runtime > Change runtime type > T4 GPU, then run all cells again" if in_colab()
             else "a CUDA GPU makes training about ten times faster")
    print(f"warning: no GPU, training runs on the CPU ({where}); PRETRAINED = True skips training")
