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


def test_every_decoder_design_is_a_valid_experiment_and_builds():
    from dataclasses import replace

    from bench import bench_decoders
    from helpers.models import GridVAE
    from helpers.pianoroll import GridFormat

    fmt = GridFormat(low=60, high=71, segment_bars=1)
    for name in bench_decoders.DESIGNS:
        spec = bench_decoders.design_spec(name, seed=1, epochs=3)
        assert spec.train.seed == 1 and spec.train.epochs == 3 and spec.train.monitor == "free_f1"
        assert bool(spec.model.n_styles) == name.startswith("style")
        GridVAE(replace(spec.model, format=fmt, n_styles=3 if spec.model.n_styles else 0))
    assert bench_decoders.design_spec("seed", 0, 1).model.decoder == "seed"


def test_decoder_ablation_collects_nothing_from_an_empty_folder(tmp_path):
    from bench import bench_decoders

    result = bench_decoders.collect(tmp_path, tmp_path / "ablation.json")
    assert result == {"runs": [], "designs": {}} and (tmp_path / "ablation.json").is_file()
