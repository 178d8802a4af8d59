"""Would a search decode better? Free-running reconstructions chosen by rescoring candidates, against the threshold.

    python -m bench.bench_decoding [--model basic] [--segments 200] [--candidates 16]
                                   [--out bench/results/decoding.json]

``--model`` is a shipped model (``basic``, ``style``), a run folder or a
checkpoint (:func:`helpers.pretrained.load`). Held-out test segments of its
own dataset are encoded to their posterior means and decoded freely
(:func:`helpers.generate.decode`) in several ways, each scored by frame and
note-onset F1 against the originals:

- ``threshold`` at each of :data:`helpers.evaluation.THRESHOLDS` (what the
  evaluation does, choosing one on validation segments);
- ``bernoulli``: one draw;
- a search over whole segments: ``--candidates`` Bernoulli draws plus the
  threshold decodes, one of them kept per segment by

  - ``likelihood``: the model's own log-likelihood of the candidate given the
    code (teacher-forced), the score a beam search over steps maximises;
  - ``re_encoding``: how close the candidate's own code is to the code it was
    decoded from;
  - ``both``: the two, each divided by its spread, summed;
  - ``oracle``: its frame F1 against the original (not a decoder: the most
    any rescoring of these candidates could reach).

It also gives the mean log-likelihood of the real segments beside that of the
decodes: when the decoder prefers its own greedy decodes to the truth by
hundreds of nats, a better search for the most likely notes moves away from
the truth, not towards it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from bench.machine import describe, write_results
from helpers import generate, metrics, pretrained
from helpers.colab import repo_root
from helpers.evaluation import THRESHOLDS, forced_logits
from helpers.experiment import build_splits

RESULTS = Path(__file__).parent / "results" / "decoding.json"


def log_likelihood(model, z, grids, style=None) -> np.ndarray:
    """``log p(grid | z)`` of each grid ``(N, T, 2, P)`` under the decoder, teacher-forced, in nats ``(N,)``."""
    nll = [torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3)).cpu()
           for x, logits in forced_logits(model, grids, style, codes=z)]
    return -torch.cat(nll).numpy()


def measure(model, grids, labels=None, candidates: int = 16, seed: int = 0) -> dict:
    """The figures of the module's description for grids ``(N, T, 2, P)`` (``labels`` for a style model)."""
    fmt = model.config.format
    n = len(grids)

    def scores(decoded):
        return {"frame_f1": metrics.frame_scores(grids, decoded, fmt)["f1"],
                "onset_f1": metrics.note_scores(grids, decoded, fmt)["f1"],
                "notes_per_step": float(decoded[:, :, 0].sum((1, 2)).mean() / decoded.shape[1])}

    start = time.time()
    mu = generate.encode(model, grids, labels)
    result = {"segments": n, "candidates": candidates,
              "real": {"notes_per_step": float(grids[:, :, 0].sum((1, 2)).mean() / grids.shape[1])},
              "threshold": {}}
    decodes = {}
    for th in THRESHOLDS:
        decodes[th] = generate.decode(model, mu, labels, "threshold", th)
        result["threshold"][str(th)] = scores(decodes[th])
    generator = torch.Generator(device=mu.device).manual_seed(seed)
    repeated_labels = None if labels is None else np.repeat(labels, candidates)
    drawn = generate.decode(model, mu.repeat_interleave(candidates, 0), repeated_labels, "bernoulli",
                            generator=generator).reshape(n, candidates, *grids.shape[1:])
    result["bernoulli"] = scores(drawn[:, 0])

    pool = np.concatenate([drawn] + [d[:, None] for d in decodes.values()], axis=1)  # (N, K, T, 2, P)
    k = pool.shape[1]
    flat = pool.reshape(n * k, *grids.shape[1:])
    flat_labels = None if labels is None else np.repeat(labels, k)
    likelihood = log_likelihood(model, mu.repeat_interleave(k, 0), flat, flat_labels).reshape(n, k)
    own = generate.encode(model, flat, flat_labels).reshape(n, k, -1)
    distance = ((own - mu[:, None]) ** 2).sum(-1).cpu().numpy()
    oracle = np.array([[metrics.frame_scores(grids[i][None], pool[i, j][None], fmt)["f1"] for j in range(k)]
                       for i in range(n)])
    rules = {"likelihood": likelihood, "re_encoding": -distance,
             "both": likelihood / (likelihood.std() + 1e-9) - distance / (distance.std() + 1e-9), "oracle": oracle}
    result["rescored"] = {name: scores(pool[np.arange(n), rule.argmax(1)]) for name, rule in rules.items()}
    best = max(THRESHOLDS, key=lambda th: result["threshold"][str(th)]["frame_f1"])
    result["log_likelihood"] = {
        "real": float(log_likelihood(model, mu, grids, labels).mean()),
        "best_threshold": float(likelihood[:, candidates + THRESHOLDS.index(best)].mean()),
        "threshold_0.5": float(likelihood[:, candidates + THRESHOLDS.index(0.5)].mean()),
        "bernoulli": float(likelihood[:, :candidates].mean()),
        "kept_by_likelihood": float(likelihood.max(1).mean())}
    result["seconds"] = round(time.time() - start, 1)
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="basic", help="a shipped model, a run folder or a checkpoint")
    parser.add_argument("--segments", type=int, default=200, help="test segments, drawn at random")
    parser.add_argument("--candidates", type=int, default=16, help="Bernoulli draws per segment")
    parser.add_argument("--data-dir", help="data folder of the dataset cache (default: data/ of the repository)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.segments < 1 or args.candidates < 1:
        parser.error("--segments and --candidates must be positive")
    model, spec, card, _ = pretrained.load(args.model)
    splits = build_splits(spec.data, args.data_dir or repo_root() / "data", progress=False)
    test = splits.test.grids()
    picks = np.sort(np.random.default_rng(args.seed).choice(len(test), min(args.segments, len(test)), replace=False))
    labels = splits.test.style[picks] if model.config.n_styles else None
    torch.manual_seed(args.seed)
    result = measure(model, test[picks], labels, args.candidates, args.seed)
    result = {"machine": describe(), "model": str(args.model), "steps": card.get("steps"),
              "decoder": model.config.decoder, "chords": model.config.chords,
              "command": " ".join(["python -m bench.bench_decoding", *(argv if argv is not None else sys.argv[1:])]),
              **result}
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))
    return write_results(result, args.out)


if __name__ == "__main__":
    main()
