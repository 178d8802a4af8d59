"""The report builder: generated blocks replace only what lies between their markers."""
import json
from pathlib import Path

import pytest

from report import make_report, runs


def test_fill_replaces_only_the_block():
    text = "intro\n<!-- begin: a -->\nold\ntable\n<!-- end: a -->\nprose\n<!-- begin: b -->\n<!-- end: b -->\n"
    out = make_report.fill(text, {"a": "| new |", "b": "x\ny\n"}, "r.md")
    assert out == ("intro\n<!-- begin: a -->\n| new |\n<!-- end: a -->\n"
                   "prose\n<!-- begin: b -->\nx\ny\n<!-- end: b -->\n")
    assert make_report.fill(out, {"a": "| new |", "b": "x\ny\n"}, "r.md") == out  # idempotent


def test_a_missing_block_is_named():
    with pytest.raises(ValueError, match="r.md.*begin: c"):
        make_report.fill("<!-- begin: a -->\n<!-- end: a -->\n", {"c": "x"}, "r.md")


def test_the_committed_report_and_readme_have_every_block():
    root = Path(__file__).resolve().parents[1]
    for name in ("data", "runs", "reconstruction", "posterior", "statistics", "distances", "style", "style_statistics",
                 "speed", "ablation", "long_run", "decoding", "judge", "style_vocal", *make_report.FINDINGS):
        assert f"<!-- begin: {name} -->" in (root / "report" / "report.md").read_text()
    assert "<!-- begin: headline -->" in (root / "README.md").read_text()


def test_an_evaluation_is_redone_when_missing_old_or_of_another_version(tmp_path):
    import os

    checkpoint, eval_path = tmp_path / "best.pt", tmp_path / "eval.json"
    checkpoint.write_bytes(b"x")
    assert make_report.is_stale(eval_path, checkpoint)
    eval_path.write_text(json.dumps({"version": make_report.EVAL_VERSION}))
    assert not make_report.is_stale(eval_path, checkpoint)
    os.utime(checkpoint, (eval_path.stat().st_mtime + 10,) * 2)  # trained again after the evaluation
    assert make_report.is_stale(eval_path, checkpoint)
    os.utime(checkpoint, (eval_path.stat().st_mtime - 10,) * 2)
    eval_path.write_text(json.dumps({"version": make_report.EVAL_VERSION - 1}))
    assert make_report.is_stale(eval_path, checkpoint)


def test_runs_are_unique_and_use_real_notebooks():
    root = Path(__file__).resolve().parents[1]
    assert len({r.name for r in runs.RUNS}) == len(runs.RUNS)
    for r in runs.RUNS:
        assert (root / "notebooks" / f"{r.notebook}.ipynb").is_file()
    with pytest.raises(ValueError, match="unknown run"):
        runs.find("nope")


def test_run_parameters_are_notebook_parameters():
    root = Path(__file__).resolve().parents[1]
    for r in runs.RUNS:
        source = (root / "notebooks" / f"{r.notebook}.py").read_text()
        cell = source.split('# %% tags=["parameters"]', 1)[1].split("# %%", 1)[0]
        names = {line.split("=", 1)[0].strip() for line in cell.splitlines() if "=" in line and line[0].isupper()}
        assert {"RUN_NAME", "EPOCHS", *r.parameters} <= names, r.name


def test_pdf_holds_the_text_tables_and_figures(tmp_path):
    import matplotlib.pyplot as plt
    import pymupdf

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1])
    fig.savefig(tmp_path / "fig.png")
    plt.close(fig)
    (tmp_path / "r.md").write_text("# Title\n\n<!-- begin: t -->\n| a | b |\n| --- | ---: |\n| x | 1.5 |\n"
                                   "<!-- end: t -->\n\n![a figure](fig.png)\n")
    make_report.build_pdf(tmp_path / "r.md", tmp_path / "r.pdf")
    doc = pymupdf.open(tmp_path / "r.pdf")
    text = "".join(page.get_text() for page in doc)
    assert "Title" in text and "1.5" in text and "begin" not in text
    assert sum(len(page.get_images()) for page in doc) == 1


def test_the_text_rebuilds_from_the_saved_results_alone(tmp_path):
    """Every generated block comes back from report/results.json, as committed, without the runs."""
    c = make_report.collect_saved(make_report.HERE / "results.json")
    text = (make_report.HERE / "report.md").read_text()
    blocks = {name: write(c) for name, write in make_report.FINDINGS.items()}
    blocks.update(reconstruction=make_report.table_reconstruction(c), style=make_report.table_style(c))
    for name, body in blocks.items():
        assert "not measured" not in body, name
        assert f"<!-- begin: {name} -->\n{body.rstrip()}\n<!-- end: {name} -->" in text, f"{name} is out of date"


def test_an_ablation_row_names_its_checkpoint_and_whether_its_first_step_held_notes():
    assert make_report._checkpoint_text({"design": "d"}) == ""  # gathered before rows said
    assert make_report._checkpoint_text({"epoch": 6}) == ", best.pt (epoch 6)"
    assert make_report._checkpoint_text({"epoch": 40, "checkpoint": "last", "evaluation": 6}) == ", last.pt (epoch 40)"
    assert make_report._checkpoint_text({"epoch": 40, "evaluation": make_report.FIRST_STEP_HELD}) == (
        ", best.pt (epoch 40), first step held")
