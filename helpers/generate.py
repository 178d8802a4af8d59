"""Generation with a trained :class:`helpers.models.GridVAE`: sample, reconstruct, interpolate, restyle.

Every function returns boolean grids ``(N, T, 2, P)`` in the model's grid
format (``model.config.format``), ready for
:func:`helpers.pianoroll.grid_to_midi` and :mod:`helpers.render`.

:func:`decode` is the one free-running decoder: every function here goes
through it. Probabilities become notes step by step, keeping every note whole: a note
starts only where its onset is chosen, and goes on sounding while its frame
is chosen at the following steps (so no note begins without an onset and no
frame flickers on alone). The first step is the exception: there a frame
chosen without an onset sounds, a note held from before the segment, as a
real segment begins wherever a note is tied over its first bar line (and as
the model learnt it: at the first step a frame is its own cell). Each cell is chosen in one of two ways (``mode``):

- ``"threshold"``: where its probability is above ``threshold`` (steady, the
  most likely notes; a cautious model may need a threshold below 0.5);
- ``"bernoulli"``: drawn from its probability (livelier, closer to the data's
  density of notes).

``floor`` keeps a note from starting where its onset's probability is below
it: a briefly trained decoder spreads a little probability over every pitch,
and drawn, those small shares add up to stray notes out of key and out of
range (:func:`helpers.evaluation.choose_drawing` picks one on validation
segments, with the onset temperature; 0, the default, leaves every draw as
the model says).

``onset_temperature`` then tempers the onsets that pass the floor: each
onset's logit is divided by it, so above 1 a less likely note starts more
often (a thicker texture, for a model whose own draws come out thinner than
its music), below 1 less often. A floor only removes notes; tempering above
1 with a floor adds them where the model already puts some probability.
1, the default, leaves the probabilities as they are.

Codes decoded as one path (:func:`interpolate`, :func:`style_path`) share
their dice: each cell of every step of the path is drawn with the same
uniform number, so a note comes and goes along the path only where its
probability crosses that number, and the path changes gradually instead of
being a fresh draw at every step.

With a chord model (``VAEConfig.chords = "nade"``) the cells of a step are
chosen one after another, each with its probability given the cells already
chosen, so a step's notes are decided as one chord.

A style model samples in a style from the whole prior, or, with
``regions`` (:func:`style_regions`), from where the codes of that style's
own pieces lie.

A style model with a style code (``VAEConfig.style_latent``) keeps its style
in the first dimensions of ``z``: :func:`transfer` replaces that code by the
target style's mean code, and :func:`style_path` moves it along with the
decoder's style embedding.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from .pianoroll import FRAME, ONSET

MODES = ("threshold", "bernoulli")
_ONSET_PLANE = (torch.arange(2) == ONSET)[:, None]  # (2, 1): which plane of a step's (2, P) cells is the onsets'


def check_floor(floor, name: str = "floor") -> float:
    """``floor`` if it is a probability in [0, 1); else a ``ValueError`` naming the setting (``name``)."""
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor < 1:
        raise ValueError(f"{name} must be a number in [0, 1) (an onset less likely than it is never chosen), "
                         f"got {floor!r}")
    return float(floor)


def check_mode(mode: str, name: str = "the decoding mode") -> str:
    """``mode`` if it is one of :data:`MODES`; else a ``ValueError`` naming the setting (``name``) and the choices."""
    if mode not in MODES:
        raise ValueError(f"{name} must be one of {MODES}, got {mode!r}")
    return mode


def check_count(value, name: str, minimum: int = 1) -> int:
    """``value`` if it is an integer >= ``minimum`` (a number of samples, steps, pieces); else a ``ValueError``
    naming the setting (``name``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_attribute(name, setting: str = "attribute") -> str:
    """``name`` if it is a statistic of :mod:`helpers.musicstats` (an attribute vector's); else a ``ValueError``
    naming the setting and the choices."""
    from .musicstats import STATISTICS

    if name not in STATISTICS:
        raise ValueError(f"{setting} must be one of {list(STATISTICS)}, got {name!r}")
    return name


def check_positive(value, name: str) -> float:
    """``value`` if it is a finite number > 0 (a temperature, a tempo); else a ``ValueError`` naming the setting."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)


def style_pair(names, source: str = "", target: str = "", settings=("source", "target")) -> tuple[int, int]:
    """The indices in ``names`` of the two styles a transfer or a style path moves between: ``source`` and
    ``target`` by name, an empty one the first (``source``) or the last (``target``) style of ``names``. A name
    not among ``names``, or one style for both, is a ``ValueError`` naming the setting (``settings``)."""
    names = list(names)
    if len(names) < 2:
        raise ValueError(f"moving between styles needs two styles, the model has {names}")
    chosen = []
    for name, setting, default in zip((source, target), settings, (names[0], names[-1])):
        name = (name or "").strip() or default
        if name not in names:
            raise ValueError(f"{setting} {name!r} is not one of the styles {names}")
        chosen.append(names.index(name))
    if chosen[0] == chosen[1]:
        raise ValueError(f"{settings[0]} and {settings[1]} must be two styles, both are {names[chosen[0]]!r}")
    return chosen[0], chosen[1]


class _Chooser:
    """Turns logits into notes, step by step, remembering the last step's frames.

    Called with a step's logits ``(B, 2P)`` (independent cells), or cell by
    cell through :meth:`cell` and :meth:`commit` (the chord model, which
    conditions each cell on those chosen before it: a pitch's onset comes
    before its frame), or the onsets cell by cell and then every frame
    through :meth:`frames` (the chord model of whole notes).
    """

    def __init__(self, mode: str, threshold: float, n_pitches: int, generator=None, shared: int = 1,
                 floor: float = 0.0, onset_temperature: float = 1.0):
        check_mode(mode)
        self.floor = check_floor(floor)
        self.onset_temperature = check_positive(onset_temperature, "onset_temperature")
        if torch.is_tensor(threshold):  # one per row (decode_thresholds)
            if mode == "threshold" and not bool(((threshold > 0) & (threshold < 1)).all()):
                raise ValueError(f"every threshold must be a probability strictly between 0 and 1, got "
                                 f"{threshold.unique().tolist()}")
            threshold = threshold.float()
        elif mode == "threshold" and not 0 < threshold < 1:
            raise ValueError(f"threshold must be a probability strictly between 0 and 1, got {threshold!r}")
        if not isinstance(shared, int) or shared < 1:
            raise ValueError(f"shared must be a positive integer (rows that share their dice), got {shared!r}")
        self.mode, self.threshold, self.n_pitches, self.generator = mode, threshold, n_pitches, generator
        self.shared = shared  # consecutive rows drawn with the same uniform numbers
        self.previous = None  # (B, P) frames of the last step
        self.onsets = None    # (B, P) onsets chosen so far in this step (cell by cell)
        self.steps = []       # every step's cells (B, 2P), bool

    def _pick(self, probs: torch.Tensor, onset=False) -> torch.Tensor:
        """The cells chosen given their probabilities; ``onset``: all of them onsets (a bool), or which (a mask
        broadcast against ``probs``), the cells the floor holds back and the onset temperature tempers."""
        if onset is not False and (self.floor or self.onset_temperature != 1.0):
            onset = torch.as_tensor(onset, device=probs.device)
            held = (probs < self.floor) & onset  # the floor reads the model's own probabilities
            if self.onset_temperature != 1.0:
                tempered = torch.sigmoid(torch.logit(probs, eps=1e-6) / self.onset_temperature)
                probs = torch.where(onset, tempered, probs)
            probs = probs.masked_fill(held, 0.0)
        if self.mode == "threshold":
            if torch.is_tensor(self.threshold):  # a row's threshold against each of its cells
                return probs > self.threshold.to(probs.device).view(-1, *[1] * (probs.dim() - 1))
            return probs > self.threshold
        dice = torch.rand((len(probs) // self.shared, *probs.shape[1:]), generator=self.generator, device=probs.device)
        return dice.repeat_interleave(self.shared, 0) < probs

    @staticmethod
    def _sounds(onset, frame_chosen, previous):
        """Whether a note sounds: it starts (``onset``), or its frame is chosen and it sounded the step before;
        at the first step (``previous`` None) wherever its frame is chosen (a note held from before)."""
        return onset | (frame_chosen & previous) if previous is not None else onset | frame_chosen

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        chosen = self._pick(torch.sigmoid(logits.float()).view(len(logits), 2, self.n_pitches), _ONSET_PLANE)
        onset = chosen[:, ONSET]
        frame = self._sounds(onset, chosen[:, FRAME], self.previous)
        self.previous = frame
        self.steps.append(torch.stack([frame, onset], dim=1).view(len(logits), -1))
        return self.steps[-1]

    def cell(self, index: int, logit: torch.Tensor) -> torch.Tensor:
        """The value ``(B,)`` of cell ``index`` (``plane * P + pitch``) given its logit ``(B,)``."""
        plane, pitch = divmod(index, self.n_pitches)
        chosen = self._pick(torch.sigmoid(logit.float()), plane == ONSET)
        if self.onsets is None:
            self.onsets = torch.zeros(len(logit), self.n_pitches, dtype=torch.bool, device=logit.device)
        if plane == ONSET:
            self.onsets[:, pitch] = chosen
            return chosen
        return self._sounds(self.onsets[:, pitch], chosen, None if self.previous is None else self.previous[:, pitch])

    def step_onsets(self, logits: torch.Tensor) -> torch.Tensor:
        """Every pitch's onset ``(B, P)`` at once, given their logits ``(B, P)``, before the frames (whole notes
        whose ends hear the onsets of their step)."""
        self.onsets = self._pick(torch.sigmoid(logits.float()), True)
        return self.onsets

    def frames(self, logits: torch.Tensor) -> torch.Tensor:
        """Every pitch's frame ``(B, P)`` at once, given their logits ``(B, P)`` and the onsets chosen by :meth:`cell`
        (a chord model of the onsets alone)."""
        return self._sounds(self.onsets, self._pick(torch.sigmoid(logits.float())), self.previous)

    def commit(self, cells: torch.Tensor) -> torch.Tensor:
        """End a step chosen cell by cell; returns its cells ``(B, 2P)``."""
        self.previous = cells.view(len(cells), 2, self.n_pitches)[:, FRAME].bool()
        self.onsets = None
        self.steps.append(cells.bool())
        return cells


def _styles(model, style, n):
    """Style indices ``(n,)``, or mixing weights ``(n, n_styles)`` passed as floats."""
    if not model.config.n_styles:
        return None
    if style is None:
        raise ValueError("this model is style-conditioned: pass style (an index or a sequence of indices)")
    if torch.is_tensor(style) and style.is_floating_point():
        return style.to(_device(model))
    style = torch.as_tensor(style, dtype=torch.long, device=_device(model))
    return style.expand(n) if style.dim() == 0 else style


def _device(model):
    return next(model.parameters()).device


def _generator(model, seed):
    """A generator on the model's device seeded with ``seed``, or ``None`` (torch's own) without one."""
    if seed is None:
        return None
    generator = torch.Generator(device=_device(model))
    generator.manual_seed(seed)
    return generator


@torch.no_grad()
def decode(model, z: torch.Tensor, style=None, mode: str = "threshold", threshold: float = 0.5,
           generator=None, shared: int = 1, floor: float = 0.0, onset_temperature: float = 1.0) -> np.ndarray:
    """Grids ``(N, T, 2, P)`` from latent vectors ``z`` (N, latent), decoded step by step.

    An autoregressive decoder hears, at each step, the notes chosen at the
    step before (not their probabilities). With ``shared = k``, each run of
    ``k`` consecutive codes (one path) is drawn with the same dice. No note starts where its onset's
    probability is below ``floor``; the other onsets are tempered by ``onset_temperature`` (the module's
    description).
    """
    model.eval()
    z = z.to(_device(model))
    steps, n_pitches = model.config.seq_len, model.config.n_pitches
    choose = _Chooser(mode, threshold, n_pitches, generator, shared, floor, onset_temperature)
    if len(z) % shared:
        raise ValueError(f"{len(z)} codes do not make paths of {shared} that share their dice")
    model.decode_steps(z, _styles(model, style, len(z)), steps, choose)
    return torch.stack(choose.steps, dim=1).view(len(z), steps, 2, n_pitches).cpu().numpy()


def decode_thresholds(model, z: torch.Tensor, style, thresholds) -> list[np.ndarray]:
    """The grids ``(N, T, 2, P)`` decoded from codes ``z`` ``(N, latent)`` at each of ``thresholds``, as
    :func:`decode` gives them one threshold at a time, in one pass: a row per code and threshold, so a
    decoder that goes step by step (and a GPU, for which each step's small kernels cost more than their
    size) pays for its steps once rather than once per threshold."""
    thresholds = [float(t) for t in thresholds]
    if not thresholds:
        raise ValueError("thresholds must name at least one threshold")
    styles = _styles(model, style, len(z))
    repeated = None if styles is None else styles.repeat(len(thresholds), *[1] * (styles.dim() - 1))
    rows = torch.tensor(thresholds, device=_device(model)).repeat_interleave(len(z))  # beside the probabilities
    grids = decode(model, z.repeat(len(thresholds), 1), repeated, "threshold", rows)
    return list(grids.reshape(len(thresholds), len(z), *grids.shape[1:]))


@torch.no_grad()
def sample(model, n: int, temperature: float = 1.0, style=None, mode: str = "bernoulli",
           threshold: float = 0.5, seed: int | None = None, regions=None, floor: float = 0.0,
           onset_temperature: float = 1.0) -> np.ndarray:
    """``n`` new grids from the prior ``N(0, temperature^2 I)`` (``temperature`` scales the code; ``floor``
    holds back unlikely onsets as the draws are made and ``onset_temperature`` tempers the others, see the
    module's description).

    With ``regions`` (:func:`style_regions`, a style model's styles), each
    grid's ``z`` is drawn instead from its style's region of the latent
    space, ``N(mean, (temperature * spread)^2)``: where the codes of that
    style's own pieces lie, not anywhere the prior puts them.
    """
    n, temperature = check_count(n, "n"), check_positive(temperature, "temperature")
    check_floor(floor)
    check_positive(onset_temperature, "onset_temperature")
    generator = torch.Generator(device=_device(model))
    if seed is not None:
        generator.manual_seed(seed)
    else:
        generator.seed()
    z = torch.randn(n, model.config.latent, generator=generator, device=_device(model)) * temperature
    if regions is not None:
        styles = _styles(model, style, n)
        groups = model.config.n_styles or 1
        if styles is None:
            styles = torch.zeros(n, dtype=torch.long, device=z.device)
        elif styles.is_floating_point():
            raise ValueError("sampling from style regions needs style indices, not mixing weights")
        means, spreads = (r.to(z.device) for r in regions)
        if means.shape != (groups, model.config.latent) or spreads.shape != means.shape:
            raise ValueError(f"regions must be (means, spreads) of shape ({groups}, {model.config.latent}), one row "
                             f"per {'style' if model.config.n_styles else 'model (it has no styles)'}; got "
                             f"{tuple(means.shape)} and {tuple(spreads.shape)}")
        z = means[styles] + spreads[styles] * z
    return decode(model, z, style, mode, threshold, generator, floor=floor, onset_temperature=onset_temperature)


@torch.no_grad()
def _posterior(model, grids, style=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and log-variances, each ``(N, latent)``, of grids ``(N, T, 2, P)``."""
    model.eval()
    x = torch.as_tensor(np.asarray(grids), dtype=torch.float32, device=_device(model))
    return model.encode(x, _styles(model, style, len(x)))


def encode(model, grids, style=None) -> torch.Tensor:
    """Posterior means ``(N, latent)`` of grids ``(N, T, 2, P)``."""
    return _posterior(model, grids, style)[0]


def reconstruct(model, grids, style=None, mode: str = "threshold", threshold: float = 0.5) -> np.ndarray:
    """Encode grids ``(N, T, 2, P)`` to their posterior means and decode them again."""
    return decode(model, encode(model, grids, style), style, mode, threshold)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between vectors ``a`` and ``b`` (linear when they are parallel)."""
    cos = torch.clamp(torch.dot(a, b) / (a.norm() * b.norm() + 1e-12), -1.0, 1.0)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def interpolate(model, grid_a, grid_b, steps: int = 5, style=None, mode: str = "threshold",
                threshold: float = 0.5, seed: int | None = None, floor: float = 0.0,
                onset_temperature: float = 1.0) -> np.ndarray:
    """``steps`` grids from ``grid_a`` to ``grid_b`` (each ``(T, 2, P)``) along a slerp in latent space.

    The first and last are the reconstructions of the two ends. Drawn
    (``mode="bernoulli"``), every step shares its dice (``seed``: which ones).
    """
    steps = check_count(steps, "steps", minimum=2)
    mu = encode(model, np.stack([grid_a, grid_b]), None if style is None else [style, style])
    z = torch.stack([slerp(mu[0], mu[1], t) for t in np.linspace(0, 1, steps)])
    return decode(model, z, style, mode, threshold, _generator(model, seed), shared=steps, floor=floor,
                  onset_temperature=onset_temperature)


def concatenate(grids) -> np.ndarray:
    """Join grids ``(N, T, 2, P)`` end to end into one ``(N * T, 2, P)`` grid (one continuous piece)."""
    grids = np.asarray(grids)
    return grids.reshape(-1, *grids.shape[2:])


def style_regions(model, grids, labels=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each style's pieces lie in the latent space: ``means`` and ``spreads``, each ``(n_styles, latent)``.

    ``grids`` ``(N, T, 2, P)`` are encoded with their own style ``labels``
    ``(N,)``. A style's mean is its mean posterior code (MusicVAE's
    attribute vector, for styles: :func:`transfer`, :func:`style_path`); its
    spread is the standard deviation of its codes' posteriors taken together
    (the variance of their means plus their mean variance), so ``N(mean,
    spread^2)`` is the Gaussian closest to the style's part of the
    aggregate posterior (:func:`sample` with ``regions``). A style without
    grids gets the prior's ``(0, 1)``. A model without styles has one
    region, ``(1, latent)`` each, that of all ``grids`` (``labels`` unused):
    a briefly trained model's codes fill only part of the prior, and samples
    drawn from it leave out where no piece lies.
    """
    styled = bool(model.config.n_styles)
    labels = np.asarray(labels) if styled else np.zeros(len(grids), dtype=int)
    mu, logvar = (t.cpu() for t in _posterior(model, grids, labels if styled else None))
    groups = model.config.n_styles if styled else 1
    means = torch.zeros(groups, model.config.latent)
    spreads = torch.ones(groups, model.config.latent)
    for k in range(groups):
        mine = torch.as_tensor(labels == k)
        if mine.any():
            means[k] = mu[mine].mean(0)
            spreads[k] = (mu[mine].var(0, unbiased=False) + logvar[mine].exp().mean(0)).sqrt()
    return means, spreads


def style_vectors(model, grids, labels) -> torch.Tensor:
    """Each style's mean posterior code, ``(n_styles, latent)``: the means of :func:`style_regions`."""
    return style_regions(model, grids, labels)[0]


TRANSFERS = ("shift", "swap")


def transfer(model, grids, source_style: int, target_style: int, mode: str = "threshold",
             threshold: float = 0.5, vectors=None, how: str | None = None, seed: int | None = None,
             floor: float = 0.0, onset_temperature: float = 1.0) -> np.ndarray:
    """Move grids ``(N, T, 2, P)`` of ``source_style`` to ``target_style``: encode as one, decode as the other.

    Decoded by draws (``mode="bernoulli"``, ``seed``: which ones; ``floor``
    and ``onset_temperature`` as :func:`sample` takes them), a transfer is
    written as the target style's samples are. A threshold chosen for
    reconstructions (low, to find the notes of a piece the code knows) can
    write a moved code's spread-out probabilities as clusters of ten or
    more notes a step, a texture of no style.

    The decoder's style embedding always changes. With ``vectors``
    (:func:`style_vectors`) the code changes too, ``how``:

    - ``"swap"`` (the default for a model with a style code,
      ``VAEConfig.style_latent``): the style code, the first dimensions of
      ``z``, is replaced by the target style's mean code (MIDI-VAE);
    - ``"shift"`` (the default otherwise): all of ``z`` moves by the
      difference of the two styles' mean codes (MusicVAE's attribute vectors).
    """
    code = model.config.style_latent
    how = how or ("swap" if code else "shift")
    if how not in TRANSFERS:
        raise ValueError(f"how must be one of {TRANSFERS}, got {how!r}")
    if how == "swap" and not code:
        raise ValueError("how='swap' needs a model with a style code (VAEConfig.style_latent > 0)")
    mu = encode(model, grids, source_style)
    if vectors is not None:
        vectors = vectors.to(mu.device)
        if how == "swap":
            mu[:, :code] = vectors[target_style, :code]
        else:
            mu = mu + (vectors[target_style] - vectors[source_style])
    return decode(model, mu, target_style, mode, threshold, _generator(model, seed), floor=floor,
                  onset_temperature=onset_temperature)


def style_path(model, z: torch.Tensor, style_a: int, style_b: int, steps: int = 5, mode: str = "threshold",
               threshold: float = 0.5, seed: int | None = None, vectors=None, floor: float = 0.0,
               onset_temperature: float = 1.0) -> np.ndarray:
    """One ``z`` (latent,) decoded while the style moves from ``style_a`` to ``style_b`` in ``steps`` steps.

    The style embedding is mixed linearly. With ``vectors`` (the styles'
    mean codes, :func:`style_vectors`) the code moves too, as :func:`transfer`
    moves it: a model with a style code moves that code from one style's mean
    code to the other's; a model without one moves all of ``z`` by ``t``
    times the difference of the two mean codes, so the last step is ``z``
    shifted into the other style. Drawn (``mode="bernoulli"``), the steps of
    a path share their dice (``seed``: which ones). Returns ``(steps, T, 2, P)``.
    Several codes ``z`` (N, latent) are decoded in one batch: ``(N, steps, T, 2, P)``.
    """
    steps = check_count(steps, "steps", minimum=2)
    weights = torch.zeros(steps, model.config.n_styles)
    t = torch.linspace(0, 1, steps)
    weights[:, style_a] += 1 - t
    weights[:, style_b] += t
    generator = _generator(model, seed)
    starts = z.reshape(-1, z.shape[-1])
    codes = starts.repeat_interleave(steps, 0)  # a copy: the style code may be written into it
    k = model.config.style_latent
    if vectors is not None and k:
        moving = (1 - t)[:, None] * vectors[style_a, :k] + t[:, None] * vectors[style_b, :k]  # (steps, k)
        codes[:, :k] = moving.to(codes).repeat(len(starts), 1)
    elif vectors is not None:
        shift = t[:, None] * (vectors[style_b] - vectors[style_a])  # (steps, latent)
        codes += shift.to(codes).repeat(len(starts), 1)
    grids = decode(model, codes, weights.repeat(len(starts), 1), mode, threshold, generator, shared=steps,
                   floor=floor, onset_temperature=onset_temperature)
    return grids if z.dim() == 1 else grids.reshape(len(starts), steps, *grids.shape[1:])


ATTRIBUTE_SHARE = 0.25  # an attribute vector contrasts the top and the bottom quarter of the segments


def attribute_vectors(model, grids, style=None, names=None, share: float = ATTRIBUTE_SHARE, limit: int = 2000,
                      seed: int = 0) -> dict:
    """MusicVAE's attribute vectors: for each statistic of :mod:`helpers.musicstats` (``names``, default all),
    the mean posterior code of the segments with the most of it (its top ``share``) minus that of the segments
    with the least (its bottom ``share``), ``{name: (latent,) tensor}``.

    Added to a piece's code (:func:`shift_attribute`) a vector asks for more of its statistic (more notes per
    bar, a wider range, longer notes), subtracted for less. ``grids`` ``(N, T, 2, P)`` are real segments (a
    style model's with their ``style`` labels); at most ``limit`` of them, drawn with ``seed``, are measured.
    Segments where a statistic is undefined (no notes) are left out of its vector. With several styles the
    top and bottom are taken within each style and their differences averaged over the styles, so that a
    statistic on which the styles differ (Palestrina's notes are longer than a folk tune's) gives a vector
    of that statistic, not of the style.
    """
    from .musicstats import STATISTICS, statistics

    names = list(STATISTICS) if names is None else [check_attribute(n, "every one of names") for n in names]
    if not 0 < share <= 0.5:
        raise ValueError(f"share must be in (0, 0.5], got {share!r}")
    grids = np.asarray(grids)
    labelled = style is not None and np.ndim(style) > 0  # a style per segment: contrasted within each style
    if len(grids) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(grids), limit, replace=False))
        grids = grids[keep]
        style = np.asarray(style)[keep] if labelled else style
    codes = encode(model, grids, style).cpu()
    values = statistics(grids, model.config.format)
    groups = [np.flatnonzero(np.asarray(style) == k) for k in np.unique(style)] if labelled else [
        np.arange(len(grids))]
    vectors = {}
    for name in names:
        differences = []
        for group in groups:
            defined = group[~np.isnan(values[name][group])]
            n = int(len(defined) * share)
            if n >= 1:
                order = defined[np.argsort(values[name][defined], kind="stable")]
                differences.append(codes[order[-n:]].mean(0) - codes[order[:n]].mean(0))
        if not differences:
            raise ValueError(f"too few segments with a {name} to contrast their top and bottom {share:.0%}")
        vectors[name] = torch.stack(differences).mean(0)
    return vectors


def shift_attribute(model, grids, vector: torch.Tensor, amounts, style=None, mode: str = "threshold",
                    threshold: float = 0.5, seed: int | None = None, floor: float = 0.0,
                    onset_temperature: float = 1.0) -> np.ndarray:
    """Grids ``(N, T, 2, P)`` encoded, their codes moved by each of ``amounts`` times an attribute ``vector``
    (:func:`attribute_vectors`), and decoded: ``(N, len(amounts), T, 2, P)``. Amount 0 is the reconstruction;
    drawn (``mode="bernoulli"``), the amounts of one grid share their dice, so what changes is the vector's
    doing."""
    amounts = torch.as_tensor(np.asarray(amounts, dtype=np.float32))
    if amounts.dim() != 1 or not len(amounts):
        raise ValueError(f"amounts must be a non-empty sequence of numbers, got {amounts.tolist()!r}")
    grids = np.asarray(grids)
    mu = encode(model, grids, style)
    codes = mu[:, None] + amounts.to(mu)[None, :, None] * vector.to(mu)  # (N, A, latent)
    styles = _styles(model, style, len(grids))
    styles = None if styles is None else styles.repeat_interleave(len(amounts), 0)
    out = decode(model, codes.reshape(-1, mu.shape[1]), styles, mode, threshold, _generator(model, seed),
                 shared=len(amounts), floor=floor, onset_temperature=onset_temperature)
    return out.reshape(len(grids), len(amounts), *out.shape[1:])
