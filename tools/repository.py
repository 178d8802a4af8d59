"""Point the Colab badges and the notebooks' ``REPO`` at one GitHub repository.

The repository is named in one place, ``[tool.gridvae]`` of ``pyproject.toml``
(``repository = "owner/name"``, ``branch = "main"``). This command writes that
place and rewrites everything derived from it: the "Open in Colab" badges of
the README and of both notebooks, and the default ``REPO`` the notebooks'
Colab set-up installs the helpers from (both ``.py`` and ``.ipynb``)::

    python -m tools.repository OWNER/NAME [--branch BRANCH]   # e.g. a fork
    python -m tools.repository --check                        # exit 1 if a file disagrees
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^/\s)]+/[^/\s)]+/blob/[^/\s)]+/notebooks/")
REPO_LINE = re.compile(r'^REPO = "[^"]*"', re.M)
SETTING = re.compile(r'^(repository|branch) = "[^"]*"', re.M)


def configured(pyproject: Path = PYPROJECT) -> tuple[str, str]:
    """``(owner/name, branch)`` from ``[tool.gridvae]``."""
    table = tomllib.loads(pyproject.read_text())["tool"]["gridvae"]
    return table["repository"], table.get("branch", "main")


def derived_files(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "notebooks").glob("*.py"))]


def rewrite(text: str, repository: str, branch: str) -> str:
    """``text`` with every badge and ``REPO`` default pointing at ``repository``."""
    text = BADGE.sub(f"https://colab.research.google.com/github/{repository}/blob/{branch}/notebooks/", text)
    return REPO_LINE.sub(f'REPO = "{repository}"', text)


def stale(root: Path = ROOT) -> list[Path]:
    """The derived files that do not point at the configured repository."""
    repository, branch = configured(root / "pyproject.toml")
    return [f for f in derived_files(root) if rewrite(f.read_text(), repository, branch) != f.read_text()]


def set_repository(repository: str, branch: str = "main", root: Path = ROOT) -> list[Path]:
    """Write the one place, then every file derived from it; returns the files changed."""
    if not NAME.match(repository):
        raise ValueError(f"the repository must be a GitHub owner/name, got {repository!r}")
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text()
    new = SETTING.sub(lambda m: f'{m.group(1)} = "{repository if m.group(1) == "repository" else branch}"', text)
    changed = [pyproject] if new != text else []
    pyproject.write_text(new)
    for f in derived_files(root):
        before = f.read_text()
        after = rewrite(before, repository, branch)
        if after != before:
            f.write_text(after)
            changed.append(f)
    notebooks = [str(f) for f in changed if f.suffix == ".py"]
    if notebooks:  # the paired .ipynb follow their .py
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", *notebooks], check=True, capture_output=True)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.repository", description=__doc__.split("\n\n")[0])
    parser.add_argument("repository", nargs="?", help="GitHub owner/name")
    parser.add_argument("--branch", default="main")
    parser.add_argument("--check", action="store_true", help="only check that every file agrees")
    args = parser.parse_args(argv)
    if args.check or not args.repository:
        bad = stale()
        repository, branch = configured()
        for f in bad:
            print(f"{f.relative_to(ROOT)} does not point at {repository}@{branch}: python -m tools.repository "
                  f"{repository} --branch {branch}")
        print(f"repository: {repository}, branch {branch}" if not bad else "", end="\n" if not bad else "")
        return 1 if bad else 0
    try:
        changed = set_repository(args.repository, args.branch)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for f in changed:
        print(f"rewrote {f.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
