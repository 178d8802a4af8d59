"""How far to trust the independent judge: its accuracy on real held-out segments of every style, per trio.

    python -m bench.bench_judge [--trio bach folk palestrina] [--trio palestrina monteverdi trecento ...]
                                [--epochs 20] [--seeds 0] [--members 3] [--baseline] [--split-seeds 0]
                                [--out bench/results/judge.json]

The style figures (samples recognised as their style, transfers recognised
as their target) mean something only where the judge itself tells the
styles apart on real music. For each trio of the embedded corpus
(:data:`helpers.corpus.STYLES`), the judge is trained exactly as the style
notebook trains it (:func:`helpers.experiment.train_judge`: real training
segments only, balanced by style, the notebook's epochs and segments per
epoch) and scored per style on the held-out test segments
(:func:`helpers.metrics.per_style_accuracy`), with the confusion between
styles. Without ``--trio``: the default trio and the three trios of the
corpus's vocal polyphony (Bach, Palestrina, Monteverdi, Trecento).
``--baseline`` also scores the judge of earlier versions (:data:`BASELINE`:
two convolutions of 96 channels, 8 epochs) on the same trios. ``--members K``
scores, for each seed S, K judges trained from seeds S, S+1, ... judging by
their mean probabilities (the notebook's ``JUDGES``), and each of them alone.
``--split-seeds`` scores each trio on several splits of the corpus into
training and held-out pieces (``DataConfig.split_seed``): with five to ten
held-out pieces of a close style, which pieces are held out decides much of
the figure, and ``summary`` gives each trio's worst style over the splits.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.machine import describe, write_results
from helpers import metrics
from helpers.colab import repo_root
from helpers.experiment import JUDGE_EPOCHS, JUDGES, DataConfig, RunFolder, build_splits, train_judge

RESULTS = Path(__file__).parent / "results" / "judge.json"
TRIOS = (("bach", "folk", "palestrina"), ("bach", "palestrina", "monteverdi"),
         ("palestrina", "monteverdi", "trecento"), ("bach", "monteverdi", "trecento"))
EPOCH_SEGMENTS = 4000  # the style notebook's segments per epoch
BASELINE = {"layers": 2, "channels": 96, "epochs": 8, "members": 1}  # the judge of earlier versions


def judge_trio(styles, epochs: int, seed: int, data_dir, layers=None, channels=None, members: int = JUDGES,
               split_seed: int = 0) -> dict:
    """Train the judge (``members`` of them, seeds ``seed``...) on ``styles``; score it on their test segments
    (of the split ``split_seed``, segments in the grid's metre as the notebook's are)."""
    splits = build_splits(DataConfig(styles=tuple(styles), balance_styles=True, epoch_segments=EPOCH_SEGMENTS,
                                     split_seed=split_seed), data_dir, progress=False)
    start = time.time()
    with tempfile.TemporaryDirectory() as folder:
        judge = train_judge(splits, RunFolder(folder), epochs, epoch_segments=EPOCH_SEGMENTS, seed=seed,
                            layers=layers, channels=channels, members=members)
    names, labels, grids = splits.styles, splits.test.style, splits.test.grids()
    probs = metrics.predict(judge, grids)
    guess = probs.argmax(1)
    confusion = {name: {other: float((guess[labels == k] == j).mean()) if (labels == k).any() else None
                        for j, other in enumerate(names)} for k, name in enumerate(names)}
    accuracy = metrics.per_style_accuracy(probs, labels, names)
    shape = judge.config
    row = {"styles": names, "seed": seed, "split_seed": split_seed, "any_metre": splits.config.any_metre,
           "members": members, "epochs": epochs, "layers": shape.layers,
           "channels": shape.channels, "train_seconds": round(time.time() - start, 1),
           "test_segments": {name: int((labels == k).sum()) for k, name in enumerate(names)},
           "accuracy": accuracy, "worst": min(accuracy[name] for name in names if accuracy[name] is not None),
           "confusion": confusion}
    pieces = {}  # each held-out piece's share of segments judged right: where the misses lie
    for k, name in enumerate(names):
        for piece in np.unique(splits.test.piece[labels == k]):
            mine = splits.test.piece == piece
            pieces.setdefault(name, {})[Path(splits.pieces.names[piece]).name] = {
                "segments": int(mine.sum()), "accuracy": float((guess[mine] == k).mean())}
    row["pieces"] = pieces
    if members > 1:  # each member alone, as a single judge of its seed would score
        row["member_accuracy"] = [metrics.per_style_accuracy(metrics.predict(m, grids), labels, names)
                                  for m in judge.members]
    return row


def summary(rows) -> list:
    """Per trio and judge: its worst style on each split (the mean over a split's seeds), their mean and least."""
    groups = {}
    for row in rows:
        key = (tuple(row["styles"]), row["judge"])
        groups.setdefault(key, {}).setdefault(row.get("split_seed", 0), []).append(row["worst"])
    result = []
    for (styles, judge), by_split in groups.items():
        worst = {split: float(np.mean(values)) for split, values in sorted(by_split.items())}
        result.append({"styles": list(styles), "judge": judge, "worst_by_split": worst,
                       "mean_worst": float(np.mean(list(worst.values()))), "least_worst": min(worst.values())})
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trio", nargs="+", action="append", help="styles judged together (repeatable)")
    parser.add_argument("--epochs", type=int, default=JUDGE_EPOCHS,
                        help="judge epochs (default: the style notebook's JUDGE_EPOCHS, %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--members", type=int, default=JUDGES,
                        help="judges per seed, trained from seeds SEED, SEED+1, ... and judging together "
                             "(default: the style notebook's JUDGES, %(default)s)")
    parser.add_argument("--baseline", action="store_true", help="also score the judge of earlier versions")
    parser.add_argument("--split-seeds", type=int, nargs="+", default=[0],
                        help="splits of the corpus into training and held-out pieces (default: %(default)s)")
    parser.add_argument("--data-dir", help="data folder of the dataset cache (default: data/ of the repository)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be positive, got {args.epochs}")
    if args.members < 1:
        parser.error(f"--members must be positive, got {args.members}")
    trios = args.trio or TRIOS
    data_dir = args.data_dir or repo_root() / "data"
    judges = {"default": {"epochs": args.epochs}, **({"baseline": BASELINE} if args.baseline else {})}
    rows = []
    for styles in trios:
        for name, judge in judges.items():
            for split_seed in args.split_seeds:
                for seed in args.seeds:
                    rows.append(dict(judge=name, **judge_trio(styles, judge["epochs"], seed, data_dir,
                                                              judge.get("layers"), judge.get("channels"),
                                                              judge.get("members", args.members), split_seed)))
                    print(json.dumps({k: rows[-1][k] for k in ("styles", "judge", "split_seed", "seed", "accuracy",
                                                               "worst")}), flush=True)
    result = {"machine": describe(),
              "command": " ".join(["python -m bench.bench_judge", *(argv if argv is not None else sys.argv[1:])]),
              "target": "every style >= 0.90 on real held-out segments", "trios": rows, "summary": summary(rows),
              "default_reaches_target": bool(np.all([row["worst"] >= 0.90 for row in rows
                                                     if row["judge"] == "default"]))}
    return write_results(result, args.out)


if __name__ == "__main__":
    main()
