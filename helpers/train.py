"""A model-agnostic training loop with atomic checkpoints and exact resume.

``train`` knows nothing about the model: a ``step_fn(model, batch, step)``
returns a dict of scalars whose ``"loss"`` is minimised; every other entry is
averaged over the epoch into the history. The run folder holds:

- ``last.pt`` (every epoch) and ``best.pt`` (best validation figure), each
  written to a temporary file and renamed, so a kill during a save leaves the
  previous checkpoint intact;
- ``history.json`` and ``history.csv``: one row of floats per epoch.

A checkpoint holds the model, optimiser, schedule, gradient scaler, epoch,
step, history and every random state, plus the model's config, so it
rebuilds its own model. Calling ``train`` again on the same run folder
resumes from ``last.pt``; on CPU a resumed run ends with exactly the weights
of a run never interrupted.

A checkpoint also keeps its *plan*: the number of epochs and the length of
the learning-rate schedule. A resumed run finishes that plan whatever device
it resumes on; another number of epochs is refused, unless
``TrainConfig.extend`` asks for it, and then the extra epochs run on at the
schedule's final learning rate (the schedule does not restart).

Under ``torchrun`` (a process group initialised, see :mod:`helpers.cli`) the
same loop trains with DistributedDataParallel: gradients are averaged across
processes, the epoch figures are averaged over all of them, and only rank 0
writes checkpoints, the history and progress; every rank resumes from the
same ``last.pt``.

Mixed precision (``TrainConfig.precision``, see :func:`autocast_dtype`) is
bfloat16 only where a GPU computes it natively (compute capability 8.0 and
up), float16 with loss scaling on older GPUs such as Colab's T4, and float32
on a CPU.
"""
from __future__ import annotations

import csv
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

CHECKPOINT_FORMAT = "gridvae-checkpoint"
CHECKPOINT_VERSION = 2  # 2: the grid format inside the model config, typed data settings in ``extra``
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
READABLE_VERSIONS = (1, 2)  # version 1 still loads for generation and evaluation, but does not resume


class CheckpointError(ValueError):
    """A file that is not a readable checkpoint of this project; the message names it."""


@dataclass
class TrainConfig:
    """Optimisation settings; saved in every checkpoint."""

    epochs: int = 30             # passes over the training segments
    batch_size: int = 64         # segments per optimiser step
    lr: float = 1e-3             # peak learning rate (AdamW)
    weight_decay: float = 1e-4   # AdamW's decoupled weight decay
    grad_clip: float = 1.0       # largest gradient norm (0: no clipping)
    warmup_steps: int = 100      # linear learning-rate warm-up, then cosine decay
    min_lr_ratio: float = 0.1    # the cosine ends at lr * min_lr_ratio
    precision: str = "auto"      # "auto", "fp32", "fp16" or "bf16" on a GPU (see autocast_dtype); fp32 on a CPU
    seed: int = 0                # seeds torch, numpy and random at the start of a fresh run
    monitor: str = "elbo"        # validation figure that picks best.pt (lower is better; higher for *f1, *acc)
    monitor_tolerance: float = 0.0  # an epoch within this of the best figure so far also counts as best: the
                                    # later, more trained one is kept (a noisy figure that peaks early)
    extend: bool = False         # on resume, let ``epochs`` differ from the checkpoint's plan

    def validate(self) -> "TrainConfig":
        for name in ("epochs", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {getattr(self, name)!r}")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"TrainConfig.warmup_steps must be an integer >= 0, got {self.warmup_steps!r}")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < 1):  # also refuses nan
            raise ValueError(f"TrainConfig.lr must be in (0, 1), got {self.lr!r}")
        for name in ("weight_decay", "grad_clip"):
            if not isinstance(getattr(self, name), (int, float)) or not 0 <= getattr(self, name) < math.inf:
                raise ValueError(f"TrainConfig.{name} must be a number >= 0, got {getattr(self, name)!r}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"TrainConfig.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"TrainConfig.precision must be one of {list(PRECISIONS)}, got {self.precision!r}")
        if not isinstance(self.monitor_tolerance, (int, float)) or not 0 <= self.monitor_tolerance < math.inf:
            raise ValueError(f"TrainConfig.monitor_tolerance must be a number >= 0, got {self.monitor_tolerance!r}")
        if not isinstance(self.monitor, str) or not self.monitor:
            raise ValueError(f"TrainConfig.monitor must name a figure of the step function, got {self.monitor!r}")
        return self


def higher_is_better(figure: str) -> bool:
    """Whether a larger ``figure`` is the better one: scores (``*f1``) and accuracies (``*acc``); losses are not."""
    return figure.endswith(("f1", "acc"))


def pick_device(verbose: bool = True) -> torch.device:
    """CUDA when present, else CPU; says which."""
    if torch.cuda.is_available():
        device = torch.device("cuda")
        name = torch.cuda.get_device_name(0)
    else:
        device, name = torch.device("cpu"), f"{torch.get_num_threads()} CPU threads"
    if verbose:
        print(f"device: {device} ({name})")
    return device


def autocast_dtype(precision: str, device) -> torch.dtype | None:
    """The autocast dtype of ``precision`` on ``device`` (``None``: float32, no autocast).

    ``"auto"`` is bfloat16 on GPUs of compute capability 8.0 and up (A100,
    L4, H100: native bfloat16), float16 on older ones (T4, V100: float16
    tensor cores, with a gradient scaler) and float32 on a CPU. An explicit
    ``"bf16"`` on an older GPU is refused: ``torch.cuda.is_bf16_supported()``
    says yes there, but through emulation. On a CPU every setting runs in
    float32 (autocast there would only slow the LSTMs down).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    device = torch.device(device)
    if device.type != "cuda" or precision == "fp32":
        return None
    major, minor = torch.cuda.get_device_capability(device)
    native_bf16 = (major, minor) >= (8, 0)
    if precision == "bf16" and not native_bf16:
        raise ValueError(f"precision 'bf16' needs a GPU of compute capability 8.0 or more; this one is "
                         f"{major}.{minor}: use 'fp16' or 'auto'")
    if precision == "bf16" or (precision == "auto" and native_bf16):
        return torch.bfloat16
    return torch.float16


def planned_epochs(path) -> int | None:
    """The number of epochs the run whose ``last.pt`` is ``path`` was planned for (``None``: no such file)."""
    path = Path(path)
    if not path.is_file():
        return None
    return int(load_checkpoint(path)["train_config"]["epochs"])


def check_plan(config: TrainConfig, planned: int | None, epoch: int | None = None, name: str = "this run") -> None:
    """Refuse a number of epochs that differs from a resumed run's plan, unless ``config.extend``."""
    if planned is None or config.epochs == planned:
        return
    done = f" (it stopped after epoch {epoch})" if epoch is not None else ""
    if not config.extend:
        raise ValueError(f"{name} was planned for {planned} epochs{done}, and epochs is now {config.epochs}: "
                         f"leave epochs at None (or {planned}) to finish that plan, or set extend=True (EXTEND = "
                         f"True in a notebook) to make {config.epochs} the new plan")
    if epoch is not None and config.epochs < epoch:
        raise ValueError(f"{name} has already trained {epoch} epochs; extend=True cannot shorten it to "
                         f"{config.epochs}")


# ------------------------------------------------------------------ checkpoints

def _rng_state() -> dict:
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path, payload: dict) -> None:
    """Write ``payload`` atomically: a temporary file in the same folder, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(dict(payload, format=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_checkpoint(path, map_location="cpu", mmap: bool = False) -> dict:
    """Read a checkpoint with ``weights_only=True`` (no code runs from the file).

    ``mmap=True`` maps the file instead of reading it: its tensors are read
    only when touched, for a caller that wants the epoch or the spec alone.

    Raises
    ------
    CheckpointError
        The file is missing, unreadable, or not a checkpoint of this project.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as err:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a checkpoint of this project")
    if payload.get("version") not in READABLE_VERSIONS:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')}, this code reads versions "
                              f"{list(READABLE_VERSIONS)}")
    return payload


# ------------------------------------------------------------------ the loop

def _schedule(config: TrainConfig, total_steps: int):
    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = min(1.0, (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps))
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def _to_device(batch, device):
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    return batch.to(device, non_blocking=True) if torch.is_tensor(batch) else batch


def _scalar(value) -> float:
    return float(value.detach()) if torch.is_tensor(value) else float(value)


def process_group() -> tuple[int, int]:
    """``(rank, world size)`` of the initialised process group, ``(0, 1)`` without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def barrier() -> None:
    """Wait for every process of the group (nothing to wait for in one process)."""
    import torch.distributed as dist

    if process_group()[1] > 1:
        dist.barrier()


def _from_rank0(value):
    """Rank 0's ``value`` (a small picklable object) in every process of the group."""
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _check_finite(loss: torch.Tensor, step: int) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(f"loss is {_scalar(loss)} at step {step}; lower TrainConfig.lr or check the data")


class _Means:
    """Running means of a step's figures, weighted by batch size. A tensor's sum stays where the tensor is
    (in float64) until the epoch's figures are read, so that the steps never wait for them."""

    def __init__(self):
        self.sums, self.count = {}, 0

    def add(self, parts: dict, batch) -> None:
        n = len(batch[0]) if isinstance(batch, (list, tuple)) else len(batch)
        for k, v in parts.items():
            v = v.detach().to(torch.float64) if torch.is_tensor(v) else float(v)
            self.sums[k] = self.sums.get(k, 0.0) + v * n
        self.count += n

    def result(self, prefix: str = "") -> dict:
        return {f"{prefix}{k}": _scalar(v) / max(self.count, 1) for k, v in self.sums.items()}

    def reduce(self) -> "_Means":
        """Sum the figures of every process (a no-op in one process)."""
        import torch.distributed as dist

        self.sums = {k: _scalar(v) for k, v in self.sums.items()}
        if process_group()[1] > 1:
            keys = sorted(self.sums)
            packed = torch.tensor([self.sums[k] for k in keys] + [float(self.count)], dtype=torch.float64)
            dist.all_reduce(packed)
            self.sums, self.count = dict(zip(keys, packed[:-1].tolist())), int(packed[-1])
        return self


def _write_history(run_dir: Path, history: list) -> None:
    tmp = run_dir / ".history.json.tmp"
    tmp.write_text(json.dumps(history, indent=1))
    os.replace(tmp, run_dir / "history.json")
    keys = list(dict.fromkeys(k for row in history for k in row))
    with open(run_dir / "history.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)


def evaluate(model, step_fn, loader, device, step: int = 0, amp_dtype=None) -> dict:
    """Average ``step_fn``'s figures over ``loader`` without gradients (model in eval mode)."""
    model.eval()
    means = _Means()
    with torch.no_grad():
        for batch in loader:
            batch = _to_device(batch, device)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                means.add(step_fn(model, batch, step), batch)
    return means.result()


def train(model, step_fn, train_loader, valid_loader, config: TrainConfig, run_dir, callback=None,
          device=None, extra: dict | None = None, progress: bool = True, probe=None) -> list:
    """Train ``model``, resuming from ``run_dir/last.pt`` when there is one.

    Parameters
    ----------
    model : torch.nn.Module
        Anything with parameters; a ``config`` attribute (a dataclass) is saved
        so the checkpoint can rebuild it.
    step_fn : callable
        ``step_fn(model, batch, step) -> dict`` of scalar tensors, ``"loss"`` among them.
    train_loader, valid_loader : iterable
        Batches; ``valid_loader`` may be ``None``.
    config : TrainConfig
    run_dir : path
        Where checkpoints and the history go.
    callback : callable, optional
        ``callback(history)`` after every epoch (the notebook draws its live curve).
    extra : dict, optional
        Saved in every checkpoint as ``extra`` (e.g. the loss config, the styles).
    probe : callable, optional
        ``probe(model, epoch, epochs) -> dict`` of figures measured after an
        epoch (the model in eval mode), added to the history as
        ``valid_<figure>``; it may skip an epoch (an empty dict), but not the last.

    Returns
    -------
    list of dict
        The history, one row per epoch: ``epoch``, ``step``, ``lr``, ``seconds``,
        ``train_<figure>`` and ``valid_<figure>`` for every figure of ``step_fn``, ``step_seconds`` (the
        optimiser steps alone) and ``segments`` (trained on, by every process together).
    """
    from tqdm.auto import tqdm

    config.validate()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = device or pick_device()
    model.to(device)
    rank, world = process_group()
    main = rank == 0  # the one process that writes and prints
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                                         else None)
    amp_dtype = autocast_dtype(config.precision, device)
    use_amp = amp_dtype is not None
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule_steps = config.epochs * len(train_loader)  # the cosine's length: the plan's, kept on resume
    model_config = asdict(model.config) if hasattr(model, "config") else None

    history, epoch, step, best = [], 0, 0, math.inf
    last = run_dir / "last.pt"
    state = None
    if last.exists():
        state = load_checkpoint(last, map_location=device)
        if state["version"] != CHECKPOINT_VERSION:
            raise CheckpointError(f"{last}: written by an earlier version (checkpoint version {state['version']}); "
                                  "it still loads for generation and evaluation, but training cannot resume from "
                                  "it: use a new run folder")
        if model_config is not None and state.get("model_config") != model_config:
            raise CheckpointError(f"{last}: saved for another model configuration; use a new run folder "
                                  f"(saved {state.get('model_config')}, now {model_config})")
        check_plan(config, state["train_config"]["epochs"], state["epoch"], str(run_dir))
        schedule_steps = state.get("schedule_steps", state["train_config"]["epochs"] * len(train_loader))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config, schedule_steps))
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler.is_enabled() and state["scaler"]:  # the run may have started in another precision
            scaler.load_state_dict(state["scaler"])
        history, epoch, step, best = state["history"], state["epoch"], state["step"], state["best"]
        _set_rng_state(state["rng"])
        if main:
            print(f"resuming {run_dir} after epoch {epoch} of {config.epochs}")
    else:
        torch.manual_seed(config.seed)
        np.random.seed(config.seed)
        random.seed(config.seed)

    def checkpoint() -> dict:
        return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "epoch": epoch,
                "step": step, "history": history, "best": best, "rng": _rng_state(),
                "schedule_steps": schedule_steps, "model_config": model_config, "train_config": asdict(config),
                "extra": extra or {}}

    while epoch < config.epochs:
        model.train()
        if hasattr(getattr(train_loader, "sampler", None), "set_epoch"):
            train_loader.sampler.set_epoch(epoch)  # a new order each epoch, the same on every process
        start, means = time.perf_counter(), _Means()
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{config.epochs}", leave=False,
                   disable=not (progress and main))
        shown = progress and main
        last_loss = None  # checked one step late: reading a figure makes the CPU wait for the GPU
        for batch in bar:
            batch = _to_device(batch, device)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                parts = step_fn(net, batch, step)
            loss = parts["loss"]
            if last_loss is not None:
                _check_finite(last_loss, step - 1)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.grad_clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            means.add(parts, batch)
            last_loss = loss.detach()
            if shown and step % 20 == 0:
                bar.set_postfix(loss=f"{_scalar(loss):.2f}")
        if last_loss is not None:
            _check_finite(last_loss, step - 1)  # before anything of this epoch is saved
        row = {"epoch": epoch + 1, "step": step, "lr": scheduler.get_last_lr()[0],
               "step_seconds": time.perf_counter() - start}  # the optimiser steps alone, without validation
        row.update(means.reduce().result("train_"))
        row["segments"] = means.count  # trained on this epoch, by every process together
        if valid_loader is not None:
            valid = evaluate(model, step_fn, valid_loader, device, step, amp_dtype)
            row.update({f"valid_{k}": v for k, v in valid.items()})
        if probe is not None:  # measured once, by rank 0 (every rank holds the same weights), then shared
            found = None
            if main:
                model.eval()
                with torch.no_grad():
                    found = {f"valid_{k}": float(v) for k, v in probe(model, epoch + 1, config.epochs).items()}
            row.update(_from_rank0(found) if world > 1 else found)
        row["seconds"] = time.perf_counter() - start
        epoch += 1
        history.append(row)
        figure = row.get(f"valid_{config.monitor}", row.get(f"train_{config.monitor}"))
        if figure is None and probe is not None and epoch < config.epochs:
            figure = math.inf  # the probe skipped this epoch: it cannot be the best one
        elif figure is None:
            raise ValueError(f"TrainConfig.monitor is {config.monitor!r}, but the step function gives "
                             f"{sorted(k.removeprefix('train_') for k in row if k.startswith('train_'))}")
        if figure != math.inf and higher_is_better(config.monitor):
            figure = -figure  # best holds the smaller-is-better form
        # a tie, or a figure within the tolerance of the best so far, goes to the later, more trained epoch
        improved = figure != math.inf and figure <= best + config.monitor_tolerance
        best = min(best, figure)
        if main:
            payload = checkpoint()
            save_checkpoint(last, payload)
            if improved:
                save_checkpoint(run_dir / "best.pt", payload)
            _write_history(run_dir, history)
            if callback is not None:
                callback(history)
        barrier()  # no process runs ahead of the checkpoint
    model.eval()
    return history
