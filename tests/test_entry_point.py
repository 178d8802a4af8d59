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
    assert "notebook 01_basic_vae basic" in text and "notebook 02_style_vae style" in text


def test_the_executed_notebook_goes_to_the_run_folder_its_parameters_name():
    def folder(*arguments):
        out = subprocess.run(["bash", str(SCRIPT), "run-folder", *arguments], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert folder("basic") == "runs/basic"
    assert folder("basic", "-p", "EPOCHS", "10", "-p", "RUN_NAME", "exp2", "--log-level", "INFO") == "runs/exp2"
    assert folder("style", "--parameters", "RUNS_DIR", "elsewhere", "-p", "RUN_NAME", "mine") == "elsewhere/mine"
    assert folder("style", "-p", "RUNS_DIR", "None") == "runs/style"  # None: the notebook's default folder
