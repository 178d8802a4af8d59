"""The one entry point of a fresh machine, ./gridvae: what it says it runs, it runs."""
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "gridvae"


def test_the_entry_point_names_each_command_it_runs():
    out = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    assert out.returncode == 2  # no command: the usage, and nothing set up
    commands = [line.split()[1] for line in out.stdout.splitlines() if line.strip().startswith("./gridvae")]
    assert commands == ["run", "style", "test", "setup"]
    text = SCRIPT.read_text()
    for command in commands:
        assert f"\n    {command})" in text, command  # each named command has its case
    assert "notebooks/02_style_vae.ipynb runs/style/02_style_vae.ipynb" in text
