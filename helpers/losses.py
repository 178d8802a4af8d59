"""The VAE objective: reconstruction + beta * KL, with annealing and free bits; the style loss.

Every term is **summed over one sample** (all steps, planes, pitches, or all
latent dimensions) and then **averaged over the batch**, so reconstruction and
KL are on the same scale (nats per segment) and beta means what it says.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from .pianoroll import FRAME, ONSET


@dataclass
class LossConfig:
    """Weights of the objective; saved in every checkpoint."""

    beta: float = 0.5            # weight of the KL term once annealing is over
    beta_warmup: int = 2000      # optimiser steps over which beta rises linearly from 0
    free_bits: float = 0.25      # nats per latent dimension that cost nothing (0: off)
    onset_weight: float = 1.0    # weight of the onset plane in the reconstruction
    style_weight: float = 1.0    # weight of the z -> style classifier loss (style models)
    plan_weight: float = 1.0     # weight of the bar plan's loss (models with VAEConfig.bar_plan)

    def validate(self) -> "LossConfig":
        for name in ("beta", "free_bits", "onset_weight", "style_weight", "plan_weight"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < math.inf:  # also refuses nan
                raise ValueError(f"LossConfig.{name} must be a finite number >= 0, got {value!r}")
        if not isinstance(self.beta_warmup, int) or self.beta_warmup < 0:
            raise ValueError(f"LossConfig.beta_warmup must be an integer >= 0, got {self.beta_warmup!r}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def beta_at(step: int, config: LossConfig) -> float:
    """Annealed beta after ``step`` optimiser steps (linear warm-up, then constant)."""
    if config.beta_warmup <= 0:
        return config.beta
    return config.beta * min(1.0, step / config.beta_warmup)


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) per sample and dimension, ``(B, latent)``, closed form."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def plane_nats(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on logits, summed over a sample's steps and pitches, averaged over the batch, plane
    by plane: ``(2,)`` nats per segment (frame, onset). ``logits`` and ``target`` are ``(B, T, 2, P)``."""
    bce = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    return bce.sum((1, 3)).mean(0)


def bar_pitches(grids: torch.Tensor, bars: int) -> torch.Tensor:
    """Whether each pitch sounds anywhere in each of ``bars`` equal bars of grids ``(B, T, 2, P)``:
    ``(B, bars, P)``, the bar plan's target."""
    b, t, _, p = grids.shape
    if t % bars:
        raise ValueError(f"{t} steps do not divide into {bars} bars")
    return grids[:, :, FRAME].reshape(b, bars, t // bars, p).amax(2)


def vae_loss(out: dict, target: torch.Tensor, style, config: LossConfig, step: int) -> dict:
    """The training objective and its parts.

    Parameters
    ----------
    out : dict
        The model's output (``logits``, ``mu``, ``logvar``, ``style_logits``).
    target : torch.Tensor
        ``(B, T, 2, P)`` grids.
    style : torch.Tensor or None
        ``(B,)`` style indices (used when the model has a classifier).
    step : int
        Optimiser steps so far, for the beta schedule.

    Returns
    -------
    dict of scalars
        ``loss`` (what is minimised), ``recon`` (the reconstruction's nats,
        both planes unweighted: ``onset_weight`` weights the onsets in
        ``loss`` alone), ``kl`` (the true KL, summed over dimensions),
        ``elbo`` (``recon + kl``, the negative ELBO, whatever the weights),
        ``beta``, ``style`` / ``style_acc`` for style models, ``adversary`` /
        ``adversary_acc`` for those with an adversary on the rest of ``z``, and
        ``plan`` (nats per segment, not part of the ELBO) for those with a bar plan.

    Notes
    -----
    Free bits: each latent dimension's KL, averaged over the batch, costs
    nothing below ``free_bits`` nats, so the optimiser gains nothing by
    closing a dimension completely (the posterior does not collapse).
    """
    nats = plane_nats(out["logits"], target)
    recon = nats.sum()  # the ELBO's term; what is minimised weights the onset plane by onset_weight
    fitted = nats[FRAME] + config.onset_weight * nats[ONSET]
    kl_dims = kl_per_dim(out["mu"].float(), out["logvar"].float())  # (B, latent)
    kl = kl_dims.sum(1).mean()
    kl_cost = torch.clamp(kl_dims.mean(0), min=config.free_bits).sum() if config.free_bits else kl
    beta = beta_at(step, config)
    loss = fitted + beta * kl_cost
    parts = {"recon": recon.detach(), "kl": kl.detach(), "elbo": (recon + kl).detach(),
             "beta": torch.tensor(beta)}
    if out.get("style_logits") is not None and style is not None:
        style_loss = F.cross_entropy(out["style_logits"].float(), style)
        loss = loss + config.style_weight * style_loss
        parts["style"] = style_loss.detach()
        parts["style_acc"] = (out["style_logits"].argmax(1) == style).float().mean()
    if out.get("adversary_logits") is not None and style is not None:
        # The adversary learns to read the style from the rest of z; its gradient reaches the
        # encoder reversed (helpers.models), so the rest of z learns to hide the style.
        adversary_loss = F.cross_entropy(out["adversary_logits"].float(), style)
        loss = loss + config.style_weight * adversary_loss
        parts["adversary"] = adversary_loss.detach()
        parts["adversary_acc"] = (out["adversary_logits"].argmax(1) == style).float().mean()
    if out.get("plan_logits") is not None:
        plan = out["plan_logits"].float()
        plan_loss = F.binary_cross_entropy_with_logits(plan, bar_pitches(target, plan.shape[1]).float(),
                                                       reduction="none").flatten(1).sum(1).mean()
        loss = loss + config.plan_weight * plan_loss
        parts["plan"] = plan_loss.detach()
    parts["loss"] = loss
    return parts


def active_dimensions(mu: torch.Tensor, threshold: float = 0.01) -> int:
    """Latent dimensions whose posterior mean varies across data: ``Var_x(mu) > threshold``.

    ``mu`` is ``(N, latent)`` over many held-out segments (Burda et al., 2016).
    """
    return int((mu.float().var(0) > threshold).sum())


# measured after epochs by decoding freely: validation segments' reconstructions, and samples against them
# (helpers.experiment.free_running_probe)
PROBE_FIGURES = ("free_f1", "sample_distance")


def figures(style_model: bool, adversary: bool = False, plan: bool = False) -> tuple:
    """The figures a VAE run's history holds (what ``TrainConfig.monitor`` may name): those of
    :func:`vae_loss` and the probe's."""
    return (("loss", "recon", "kl", "elbo", "beta") + (("style", "style_acc") if style_model else ())
            + (("adversary", "adversary_acc") if adversary else ()) + (("plan",) if plan else ()) + PROBE_FIGURES)


def make_step(config: LossConfig):
    """The ``step_fn`` for :func:`helpers.train.train`: a ``(grids, styles)`` batch -> loss parts."""
    config.validate()

    def step_fn(model, batch, step):
        x, style = batch
        conditioned = getattr(model, "module", model).config.n_styles  # DistributedDataParallel wraps the model
        out = model(x, style if conditioned else None)
        return vae_loss(out, x, style, config, step)

    return step_fn
