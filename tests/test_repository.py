"""One place says where the repository lives; the badges and the notebooks' REPO follow it."""
import shutil

import jupytext

from tools import repository

ROOT = repository.ROOT


def test_every_badge_and_repo_default_points_at_the_configured_repository():
    assert repository.stale() == [], "run python -m tools.repository OWNER/NAME"
    name, branch = repository.configured()
    for f in repository.derived_files():
        assert f"colab.research.google.com/github/{name}/blob/{branch}/notebooks/" in f.read_text(), f.name


def test_pointing_at_a_fork_rewrites_every_derived_file(tmp_path):
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    changed = repository.set_repository("someone/fork", "dev", root=tmp_path)
    assert {f.name for f in changed} == {"pyproject.toml", "README.md", "01_basic_vae.py", "02_style_vae.py"}
    assert repository.configured(tmp_path / "pyproject.toml") == ("someone/fork", "dev")
    assert repository.stale(tmp_path) == []
    for nb in sorted((tmp_path / "notebooks").glob("*.ipynb")):  # the pairs follow their .py
        cells = jupytext.read(nb).cells
        assert "github/someone/fork/blob/dev/notebooks/" in cells[0].source
        assert 'REPO = "someone/fork"' in cells[1].source
    assert repository.set_repository("someone/fork", "dev", root=tmp_path) == []  # nothing left to change


def test_a_repository_that_is_not_owner_slash_name_is_refused(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="owner/name"):
        repository.set_repository("https://github.com/a/b", root=tmp_path)
