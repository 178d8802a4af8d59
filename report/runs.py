"""The training runs the report is built from: one list, shared by the script that
trains them (``train_runs.py``) and the one that turns them into figures and tables
(``make_report.py``).

Each run is one notebook executed headless with papermill, with a few of its
parameters changed; its folder is ``runs/<name>/``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from helpers.experiment import RunFolder

ROOT = Path(__file__).resolve().parents[1]
RUNS_DIR = ROOT / "runs"
EPOCHS = 40  # every run of the report trains this long (the CPU default of the notebooks)


@dataclass(frozen=True)
class Run:
    name: str          # run folder under runs/, and the notebook's RUN_NAME
    notebook: str      # notebook under notebooks/, without suffix
    label: str         # how the report names it
    parameters: dict = field(default_factory=dict)  # notebook parameters that differ from its defaults

    @property
    def folder(self) -> Path:
        return RUNS_DIR / self.name

    @property
    def files(self) -> RunFolder:
        """The run folder's layout (:class:`helpers.experiment.RunFolder`)."""
        return RunFolder(self.folder)


BASIC = "01_basic_vae"
EARLIER = {"PRESET": "autoregressive", "NOTES": "frames"}  # the notebooks' defaults before whole notes
# the style notebook's defaults before the autoregressive decoder with chords, voices and note ends
STYLE_SEED = {"PRESET": "seed", "CHORDS": "independent", "CHORD_VOICES": False, "NOTE_ENDS": "length",
              "MONITOR": "free_f1"}
RUNS = [
    Run("basic", BASIC, "seed decoder, whole notes, beta 0.5, free bits 0.25 (default)"),
    Run("basic-ar", BASIC, "autoregressive, frames, beta 0.5, free bits 0.25 (the earlier default)", EARLIER),
    Run("basic-seed", BASIC, "seed decoder, frames, beta 0.5, free bits 0.25", {"PRESET": "seed", "NOTES": "frames"}),
    Run("basic-fb0", BASIC, "autoregressive, frames, beta 0.5, no free bits", {**EARLIER, "FREE_BITS": 0.0}),
    Run("basic-beta1", BASIC, "autoregressive, frames, beta 1, free bits 0.25", {**EARLIER, "BETA": 1.0}),
    Run("basic-beta1-fb0", BASIC, "autoregressive, frames, beta 1, no free bits (plain VAE)",
        {**EARLIER, "BETA": 1.0, "FREE_BITS": 0.0}),
    Run("style", "02_style_vae", "style-conditioned, bach / folk / palestrina: seed decoder, whole notes "
        "(the default before chords with voices)", STYLE_SEED),
    Run("style-ar", "02_style_vae", "style-conditioned, bach / folk / palestrina: autoregressive, frames "
        "(the earlier default)", {**STYLE_SEED, **EARLIER}),
]


def find(name: str) -> Run:
    for run in RUNS:
        if run.name == name:
            return run
    raise ValueError(f"unknown run {name!r}; runs: {[r.name for r in RUNS]}")
