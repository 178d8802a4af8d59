"""Speed and quality benchmarks; each writes its figures to ``bench/results/`` (``python -m bench.NAME``)."""
