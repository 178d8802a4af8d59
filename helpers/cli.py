"""Headless training from an experiment spec, on one device or many (``torchrun``), and generation from a
trained model into MIDI, audio and pictures.

The spec is the JSON of an :class:`~helpers.experiment.Experiment`: every
notebook run writes its own as ``spec.json`` in its run folder, and
``python -m helpers.cli spec [basic|style|RUN]`` prints one to start from:
the library's defaults (the seed design), or a notebook's (the spec its
shipped model was trained with), or a run's::

    python -m helpers.cli train SPEC.json --run-name NAME [--runs-dir DIR] [--data-dir DIR]
    torchrun --nproc_per_node 4 -m helpers.cli train SPEC.json --run-name NAME     # 4 GPUs (or CPU processes)
    torchrun --nnodes 2 --node_rank R --nproc_per_node 8 --master_addr HOST --master_port 29500 \\
        -m helpers.cli train SPEC.json --run-name NAME                             # 2 machines

Under ``torchrun`` each process takes one GPU (``LOCAL_RANK``; NCCL) or, with
no GPU, part of the CPU (gloo), and trains with DistributedDataParallel on its
share of one seeded global order of segments; ``TrainConfig.batch_size`` is
per process, so the effective batch is that times the number of processes.
Rank 0 builds the dataset (the others wait, then load its cache), writes the
checkpoints, the history, ``spec.json`` and ``summary.json``, and once
trained chooses the decoding threshold, the onset floor and the onset
temperature on the validation segments as the notebooks choose them (into
``summary.json``: ``generate`` draws from the run as a notebook would). The run folder is
a notebook's: the notebook with the same ``RUN_NAME`` resumes it, and
``PRETRAINED`` set to its path generates from it; running this command again
resumes it from ``last.pt``.

Generation needs no notebook either. ``MODEL`` is a shipped model (``basic``,
``style``), a run folder or a checkpoint; each piece is written as ``.mid``,
``.png`` and (unless ``--no-audio``) ``.wav`` into ``--out``::

    python -m helpers.cli generate MODEL --out DIR [--samples 4] [--style NAME ...] [--temperature 1] [--floor F]
                                     [--onset-temperature 1] [--region]
    python -m helpers.cli generate MODEL --out DIR --interpolate A.mid B.mid [--steps 5] [--style NAME]
    python -m helpers.cli generate style --out DIR --style-path A B [--samples 4] [--steps 5]
    python -m helpers.cli generate style --out DIR --transfer MINE.mid ... --style NAME [--source NAME] [--segments N]
    python -m helpers.cli generate MODEL --out DIR --attribute STATISTIC [MINE.mid ...] [--amount 1] [--steps 5]

``sample`` (the default) draws from the prior, in each ``--style`` of a style
model (default: all of them), or with ``--region`` from where the codes of
the model's training pieces lie (each style's region of the latent space,
:func:`helpers.generate.style_regions`; the model's training data is built,
or read from its cache as for ``--transfer``); ``--interpolate`` moves from the first segment
of one file to that of the other through the latent space (a style model
encodes and decodes both in ``--style``); ``--style-path A B`` decodes
each of ``--samples`` codes drawn from the prior while its style moves from
``A`` to ``B`` in ``--steps`` steps, the code moving by the styles' mean codes
(:func:`helpers.generate.style_path`, as the style notebook's interpolation;
the model's training data is built or cached as for ``--transfer``), one
strip of one segment per step, with the judge's probability of ``B`` at each
step; ``--transfer`` moves each file
into ``--style``, segment by segment (up to ``--segments`` consecutive
segments from its first bar line, joined again), from the style the model's
judge finds closest over those segments (or ``--source``), with the code moved
by the styles' mean codes as the style notebook moves it (which needs the
model's training data: built, or read from its cache in ``--data-dir``). Draws hold back onsets less likely than
``--floor`` (default: the floor chosen on validation segments when the model
was trained, else 0) and temper the others by ``--onset-temperature`` (above
1 a less likely note starts more often: thicker textures; default: the
temperature chosen with the floor when the model was trained, else 1, the
model's own probabilities); ``--seed`` makes them repeatable. ``--attribute`` moves
each file (segment by segment, written whole at each amount), or without
files ``--samples`` samples from the prior (each a strip of one segment per
amount), along the attribute vector of a statistic of
:mod:`helpers.musicstats` (:func:`helpers.generate.attribute_vectors`, from
the model's training data, built or cached as for ``--transfer``), from
``-AMOUNT`` to ``+AMOUNT`` times it in ``--steps`` steps (a style model in
one ``--style``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from . import colab, experiment
from .experiment import Experiment, RunFolder
from .own_midi import MAX_SEGMENTS
from .pianoroll import MidiError
from .train import CheckpointError, barrier


def _init_process_group() -> tuple[int, int, torch.device]:
    """``(rank, world, device)``: from torchrun's environment, or one process."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        gpus = torch.cuda.device_count()
        if local >= gpus:  # torch.cuda.set_device would only say "invalid device ordinal"
            raise SystemExit(f"process {local} of this machine has no GPU of its own: torchrun started more "
                             f"processes per machine than its {gpus} GPU(s); use --nproc_per_node {gpus}, or "
                             f"CUDA_VISIBLE_DEVICES= to train in CPU processes")
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    # On GPUs the model's gradients go through NCCL; the epoch figures and the probe's, which are small CPU
    # objects, through gloo (NCCL carries only CUDA tensors).
    dist.init_process_group("cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def train_command(args) -> int:
    spec = Experiment.load(args.spec)
    if args.epochs is not None or args.extend:
        epochs = spec.train.epochs if args.epochs is None else args.epochs
        spec = replace(spec, train=replace(spec.train, epochs=epochs, extend=args.extend or spec.train.extend))
    spec.validate()
    rank, world, device = _init_process_group()
    main = rank == 0
    try:
        base = colab.repo_root()  # as in the notebooks outside Colab: data/ and runs/ of the repository
        data_dir = Path(args.data_dir or base / "data")
        run = RunFolder(Path(args.runs_dir or base / "runs") / args.run_name, data_dir)
        spec = spec.for_device(device, run)
        if main:
            print(f"{world} process(es) on {device.type}; {spec.train.batch_size} segments per process and step "
                  f"(effective batch {spec.train.batch_size * world}); run {run.root}", flush=True)
            splits = experiment.build_splits(spec.data, data_dir, progress=False)
            print(splits.report(), flush=True)  # what was kept: styles, splits, segments of another metre, skips
        barrier()  # the others load the cache rank 0 has built
        if not main:
            splits = experiment.build_splits(spec.data, data_dir, progress=False)
        model = experiment.build_model(spec, splits)

        def report(history):
            row = history[-1]
            print(f"epoch {row['epoch']}/{spec.train.epochs}: train loss {row['train_loss']:.1f}, valid ELBO "
                  f"{row['valid_elbo']:.1f} ({row['seconds']:.1f} s)", flush=True)

        history = experiment.train_vae(model, spec, splits, run, device, callback=report, progress=False,
                                       seeded_order=True)
        if main:
            last = history[-1]
            print(experiment.epochs_text(history, run, spec.train.monitor), flush=True)
            drawing = _chosen_drawing(model, splits, spec.train.seed)
            run.write_summary({"trained_by": "helpers.cli", "processes": world, "device": str(device),
                               "epochs": last["epoch"], "valid_elbo": last["valid_elbo"],
                               "valid_recon": last["valid_recon"], "valid_kl": last["valid_kl"],
                               "train_seconds": sum(row["seconds"] for row in history), **drawing})
            print("decoding threshold {threshold}, onset floor {floor}, onset temperature {onset_temperature} "
                  "(chosen on the validation segments)".format(**drawing), flush=True)
    finally:
        if world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()
    return 0


def _style_index(names: list, name: str, flag: str = "--style") -> int:
    if name not in names:
        raise ValueError(f"{flag} {name!r}: this model's styles are {names}")
    return names.index(name)


def _check_model(model: str) -> None:
    from . import pretrained

    if model not in pretrained.NAMES and not Path(model).exists():
        raise ValueError(f"MODEL {model!r} is neither a shipped model ({', '.join(pretrained.NAMES)}) nor a "
                         "run folder or checkpoint")


def spec_command(model=None) -> Experiment:
    """The spec ``spec`` prints: the library's defaults, or a shipped model's or run's own, with the pitch window
    left to be fitted to the data again (a template for other data as well as the same)."""
    if model is None:
        return Experiment()
    from . import pretrained

    _check_model(model)
    _, spec, _, _ = pretrained.load(model)
    return replace(spec, data=replace(spec.data, window=None))


def _chosen_drawing(model, splits, seed: int) -> dict:
    """How a trained model decodes and draws, chosen on the validation segments as the notebooks choose it
    (:func:`helpers.evaluation.choose_threshold`, :func:`helpers.evaluation.choose_drawing`), for its
    ``summary.json``: ``generate`` then reads them from the run's card."""
    from . import evaluation

    valid, labels = splits.valid.grids(), splits.valid.style if model.config.n_styles else None
    threshold, _ = evaluation.choose_threshold(model, valid, labels)
    floor, onset_temperature, _ = evaluation.choose_drawing(model, valid, labels, seed=seed, unit=splits.train)
    return {"threshold": threshold, "floor": floor, "onset_temperature": onset_temperature}


def generate_command(args) -> int:
    """Write samples, interpolations or transfers of a trained model (the module's description)."""
    from . import evaluation, generate, metrics, own_midi, pretrained, render

    if args.floor is not None:
        generate.check_floor(args.floor, "--floor")
    generate.check_count(args.samples, "--samples")
    generate.check_count(args.steps, "--steps", 2)
    generate.check_count(args.segments, "--segments")
    generate.check_positive(args.temperature, "--temperature")
    if args.onset_temperature is not None:
        generate.check_positive(args.onset_temperature, "--onset-temperature")
    generate.check_positive(args.qpm, "--qpm")
    ways = [flag for flag, given in (("--interpolate", args.interpolate), ("--transfer", args.transfer),
                                     ("--attribute", args.attribute), ("--style-path", args.style_path)) if given]
    if len(ways) > 1:
        raise ValueError(f"{' and '.join(ways)} are two ways to generate: give one of them"
                         if len(ways) == 2 else f"{', '.join(ways)} are ways to generate: give one of them")
    if args.region and ways:
        raise ValueError(f"--region says where samples are drawn from: it does not go with {ways[0]}")
    if args.attribute:
        generate.check_attribute(args.attribute[0], "--attribute")
        generate.check_positive(args.amount, "--amount")
    # the MIDI files each way of generating names, found once: a path that is not there is named by its option
    # before a model loads or data builds
    found = {flag: own_midi.find(given, name=flag) for flag, given in (
        ("--transfer", args.transfer), ("--interpolate", args.interpolate),
        ("--attribute", args.attribute and args.attribute[1:]))}
    _check_model(args.model)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model, spec, card, judge = pretrained.load(args.model, device)
    names, fmt, out = list(spec.data.styles or []), model.config.format, Path(args.out)
    styled = bool(model.config.n_styles)
    threshold, floor, onset_temperature = pretrained.drawing(card, args.floor, args.onset_temperature)
    wanted = [_style_index(names, n) for n in args.style] if styled and args.style else []
    if not styled and args.style:
        raise ValueError(f"--style: {args.model!r} is not a style model")
    if args.style_path and not styled:
        raise ValueError(f"--style-path: {args.model!r} is not a style model")
    if args.style_path and args.style:
        raise ValueError("--style-path names the two styles it moves between: give no --style")
    ends = generate.style_pair(names, *args.style_path, ("--style-path A", "--style-path B")) if args.style_path else ()
    drawn = {"floor": floor, "onset_temperature": onset_temperature}  # how every draw below is made
    print(f"{card['name']}: {'styles ' + ', '.join(names) if styled else 'no styles'}; onset floor {floor}"
          + (f", onset temperature {onset_temperature}" if onset_temperature != 1 else ""))
    written = []

    def save(grid, name, title=None):
        written.append(render.save_piece(grid, out, name, fmt, args.qpm, audio=not args.no_audio, title=title))

    def moved_pieces(flag):  # the files a way of moving pieces names, each report printed; at least one usable
        pieces, skipped = own_midi.read(found[flag], fmt, max_segments=args.segments)
        print(own_midi.report(pieces, skipped, fmt))
        if not pieces:
            raise ValueError(f"{flag}: none of the MIDI files given is usable (each is named above)")
        return pieces

    def training_data():  # the model's own data (built once, then cached), with the styles it was trained on
        splits = experiment.build_splits(spec.data, args.data_dir or colab.repo_root() / "data", progress=False)
        experiment.assert_same_styles(splits, spec, card["name"])
        return splits

    def style_regions():  # each style's region of the latent space, from the model's data: (mean codes, spreads)
        return evaluation.style_regions(model, training_data(), args.seed)

    if args.transfer:
        if not styled or len(wanted) != 1:
            raise ValueError("--transfer moves pieces into one style of a style model: give one --style")
        source = None if args.source is None else _style_index(names, args.source, "--source")
        if source is None and judge is None:
            raise ValueError("this model has no judge to find each piece's style: give --source")
        pieces = moved_pieces("--transfer")
        vectors = style_regions()[0]
        for piece in pieces:
            own = source if source is not None else metrics.closest_style(judge, piece.grids)
            print(f"{piece.name}: from {names[own]}" + ("" if source is not None else " (the judge's guess)")
                  + (", the style it goes to: rebuilt in it" if own == wanted[0] else ""))
            moved = generate.transfer(model, piece.grids, own, wanted[0], "bernoulli", threshold, vectors=vectors,
                                      seed=args.seed, **drawn)
            save(generate.concatenate([*piece.grids, *moved]), f"{piece.stem}_as_{names[wanted[0]]}",
                 f"{piece.name} ({names[own]}), then as {names[wanted[0]]}")
    elif args.attribute:
        if styled and len(wanted) != 1:
            raise ValueError("a style model moves pieces along an attribute in one style: give one --style")
        name, files, style = args.attribute[0], args.attribute[1:], wanted[0] if styled else None
        if files:  # read before the training data builds, so that files none of which is usable end at once
            pieces = moved_pieces("--attribute")
        splits = training_data()
        vector = generate.attribute_vectors(model, splits.train.grids(), splits.train.style if styled else None,
                                            names=[name], seed=args.seed)[name]
        amounts = np.linspace(-args.amount, args.amount, args.steps)
        label = "_".join(f"{a:+g}" for a in (amounts[0], amounts[-1]))
        if files:  # each piece, segment by segment, written whole at each amount
            for piece in pieces:
                moved = generate.shift_attribute(model, piece.grids, vector, amounts, style, "bernoulli",
                                                 threshold, args.seed, **drawn)
                for k, amount in enumerate(amounts):
                    save(generate.concatenate(moved[:, k]), f"{piece.stem}_{name}_{amount:+g}",
                         f"{piece.name}, {amount:+g} x the {name} vector")
        else:  # samples from the prior, each a strip of one segment per amount
            grids = generate.sample(model, args.samples, args.temperature, style=style, mode="bernoulli",
                                    seed=args.seed, **drawn)
            moved = generate.shift_attribute(model, grids, vector, amounts, style, "bernoulli", threshold,
                                             args.seed, **drawn)
            for i, strip in enumerate(moved):
                save(generate.concatenate(strip), f"sample_{i + 1}_{name}_{label}",
                     f"sample {i + 1}, {name} from {amounts[0]:+g} to {amounts[-1]:+g} x its vector")
    elif args.style_path:
        a, b = ends
        vectors = style_regions()[0]
        codes = torch.randn(args.samples, model.config.latent,
                            generator=torch.Generator().manual_seed(args.seed)) * args.temperature
        paths = generate.style_path(model, codes, a, b, args.steps, "bernoulli", threshold, args.seed, vectors,
                                    **drawn)  # (samples, steps, T, 2, P)
        for i, path in enumerate(paths):
            heard = "" if judge is None else (f"; the judge's probability of {names[b]} along it: " + " ".join(
                f"{p:.2f}" for p in metrics.predict(judge, path)[:, b]))
            print(f"sample {i + 1}, {names[a]} -> {names[b]} in {args.steps} steps{heard}")
            save(generate.concatenate(path), f"style_path_{names[a]}_to_{names[b]}_{i + 1}",
                 f"sample {i + 1}, {names[a]} -> {names[b]}, one segment per step")
    elif args.interpolate:
        if styled and len(wanted) != 1:
            raise ValueError("a style model encodes and decodes both pieces in one style: give one --style")
        pieces, skipped = own_midi.read(found["--interpolate"], fmt, max_segments=1)
        print(own_midi.report(pieces, skipped, fmt))
        if len(pieces) != 2:
            raise ValueError("--interpolate needs two usable MIDI files")
        path = generate.interpolate(model, pieces[0].grids[0], pieces[1].grids[0], args.steps,
                                    style=wanted[0] if styled else None, mode="threshold", threshold=threshold)
        save(generate.concatenate(path), "interpolation", f"{pieces[0].name} -> {pieces[1].name}")
    else:
        regions = style_regions() if args.region else None
        for k in (wanted or range(len(names))) if styled else [None]:
            grids = generate.sample(model, args.samples, args.temperature, style=k, mode="bernoulli",
                                    seed=args.seed + (k or 0), regions=regions, **drawn)
            prefix = f"sample_{names[k]}" if styled else "sample"
            for i, grid in enumerate(grids):
                save(grid, f"{prefix}_{i + 1}")
    for w in written:
        print(w["midi"])
    return 0 if written else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.cli", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train (or resume) the experiment of a spec file")
    t.add_argument("spec", help="a spec JSON file (a notebook run's spec.json, or python -m helpers.cli spec)")
    t.add_argument("--run-name", required=True, help="the run folder's name under --runs-dir")
    t.add_argument("--runs-dir", help="where run folders go (default: runs/ of the repository, as the notebooks)")
    t.add_argument("--data-dir", help="data folder of the dataset cache (default: data/ of the repository)")
    t.add_argument("--epochs", type=int, help="instead of the spec's (with --extend on a resumed run: a new plan)")
    t.add_argument("--extend", action="store_true", help="on resume, let --epochs differ from the run's plan")
    s = sub.add_parser("spec", help="print an experiment spec as JSON, to edit: the library's defaults, or a "
                                    "notebook's")
    s.add_argument("model", nargs="?",
                   help="basic or style: the notebook's defaults (the spec its shipped model was trained with); "
                        "or a run folder or a checkpoint: its spec (default: the library's defaults, the seed "
                        "design)")
    g = sub.add_parser("generate", help="write samples, interpolations or transfers of a trained model")
    g.add_argument("model", help="a shipped model (basic, style), a run folder or a checkpoint")
    g.add_argument("--out", required=True, help="folder the MIDI, PNG and WAV files go to")
    g.add_argument("--samples", type=int, default=4,
                   help="samples per style, or the codes --style-path decodes (default: %(default)s)")
    g.add_argument("--style", nargs="+", default=[], metavar="NAME",
                   help="a style model's styles to sample in (default: all), or the one style of --interpolate "
                        "and --transfer")
    g.add_argument("--temperature", type=float, default=1.0, help="scales the code drawn from the prior")
    g.add_argument("--floor", type=float, help="onsets less likely than this are never drawn (default: the model's)")
    g.add_argument("--onset-temperature", type=float,
                   help="divides the logits of the onsets drawn: above 1 a less likely note starts more often "
                        "(default: the model's, else 1)")
    g.add_argument("--region", action="store_true",
                   help="draw samples from where the training pieces' codes lie rather than from the whole prior")
    g.add_argument("--interpolate", nargs=2, metavar=("A.mid", "B.mid"), help="interpolate between two pieces")
    g.add_argument("--style-path", nargs=2, metavar=("A", "B"),
                   help="a style model's --samples samples from the prior, each decoded as its style moves from "
                        "A to B")
    g.add_argument("--steps", type=int, default=5,
                   help="steps of --interpolate, --style-path and --attribute (default: %(default)s)")
    g.add_argument("--transfer", nargs="+", metavar="MIDI", help="files or folders to move into --style")
    g.add_argument("--attribute", nargs="+", metavar=("NAME", "MIDI"),
                   help="move pieces (files or folders; none: --samples samples from the prior) along the "
                        "attribute vector of the statistic NAME (notes_per_bar, note_length, pitch_range, ...), "
                        "in --steps steps from -AMOUNT to +AMOUNT times the vector")
    g.add_argument("--amount", type=float, default=1.0, help="the largest multiple of the attribute vector "
                                                               "(default: %(default)s)")
    g.add_argument("--source", metavar="NAME", help="the style --transfer moves from (default: the judge's guess)")
    g.add_argument("--segments", type=int, default=MAX_SEGMENTS, metavar="N",
                   help="consecutive segments of each file --transfer moves (default: %(default)s)")
    g.add_argument("--data-dir", help="data folder of the dataset cache, for --transfer (default: data/)")
    g.add_argument("--qpm", type=float, default=100.0, help="tempo of the written pieces (default: %(default)s)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--no-audio", action="store_true", help="write MIDI and pictures only")
    args = parser.parse_args(argv)
    try:
        if args.command == "spec":
            print(json.dumps(spec_command(args.model).to_dict(), indent=1))
            return 0
        return generate_command(args) if args.command == "generate" else train_command(args)
    except (CheckpointError, FileNotFoundError, MidiError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
