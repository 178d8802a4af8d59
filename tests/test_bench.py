"""The benchmarks write their figures with the machine's description."""
import json

from bench import bench_generate, machine


def test_generation_benchmark_writes_its_figures(tmp_path, capsys):
    out = tmp_path / "results" / "generate.json"
    results = bench_generate.main(["--checkpoint", str(tmp_path / "none.pt"), "--pieces", "3", "--repeats", "1",
                                   "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved == results
    assert saved["model"] == "untrained autoregressive preset" and saved["pieces"] == 3
    assert saved["total_s"] >= saved["sample_s"] > 0 and saved["pieces_per_s"] > 0
    assert {"cpu", "cores", "memory_gib", "python", "torch", "gpu"} <= set(saved["machine"])
    assert f"written to {out}" in capsys.readouterr().out


def test_machine_description_is_json():
    info = machine.describe()
    assert info["cores"] >= 1 and json.loads(json.dumps(info)) == info
