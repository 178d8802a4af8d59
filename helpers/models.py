"""The recurrent VAE over grids, plain or style-conditioned, configured by a dataclass.

Shapes: a batch of grids is ``(B, T, 2, P)`` (frame and onset planes, see
:mod:`helpers.pianoroll`); the model works on ``(B, T, 2P)`` features per step.

- Encoder: a two-layer (bidirectional by default) LSTM over the steps; the
  final hidden states of the last layer (both directions) give, through two
  dense layers, the mean and log-variance of ``z``.
- Reparameterisation: ``z = mu + sigma * eps``.
- Decoder ``"seed"`` (the original design): a dense layer on ``z``, repeated at
  every step as the input of one LSTM, then a dense layer to note logits.
- Decoder ``"autoregressive"``: the same, plus the previous step's notes as
  input (teacher forcing in training, its own samples when generating), as in
  MusicVAE's decoders.
- Decoder ``"hierarchical"`` (MusicVAE's): a conductor LSTM turns ``z`` into
  one embedding per bar; the autoregressive note decoder starts again from
  each bar's embedding (its state is reset there) and hears it at every step
  of the bar, so each bar must be rebuilt from ``z`` rather than from the bar
  before.
- Notes of one step (``chords``): ``"independent"`` Bernoullis (a sigmoid per
  cell), or ``"nade"``: the cells of a step are modelled jointly, pitch by
  pitch from the lowest (its onset, then its frame), each conditioned on the
  cells already chosen below it (a NADE on the decoder's state, as in
  Boulanger-Lewandowski et al.'s RNN-NADE). A step's notes are then a chord
  drawn as a whole: a probability spread over two pitches picks one of them
  instead of neither. With ``chord_voices``, each onset also hears how many
  notes its step has started and which lie within an octave below it, with
  weights from the decoder's state: how a step's notes go together can then
  differ by style (one voice in a folk tune, four in a chorale), which the
  NADE's own weights, shared by every state, cannot. With ``voices_before``
  too (whole notes), that count is also read against how many notes sounded
  the step before: a chord change can then restart as many voices as ended.
- How a note lasts (``notes``): ``"frames"``, each step's frame chosen on its
  own while the note sounds (a note breaks off wherever one frame is
  missed), or ``"whole"``: at a note's start the decoder gives a
  distribution over its length (1 to ``T`` steps, per pitch, from its state
  at that step), and the note goes on at each later step with the
  probability that a note of that length goes on (``P(L > a | L >= a)`` at
  age ``a``). Drawn step by step, that is the length drawn at the onset. The
  model is still a distribution over cells, so the loss, the ELBO and the
  diagnostics read it unchanged: an onset's frame is certain, a frame after
  silence is the model's own cell, and a sounding note's next frame is its
  length's continuation. A decoder with no past (``seed``) then keeps its
  notes whole. With the chord model too, the chord model decides a step's
  onsets, pitch by pitch from the lowest, each given the onsets below it and
  the notes sounding the step before: a new note is chosen against the
  notes it joins.
- How a note ends (``note_ends``, whole notes only): by its ``"length"``
  alone, or ``"onsets"``: a sounding note's continuation also hears the
  onsets chosen at its step, near it in pitch (an octave either way) and in
  all, with weights the decoder's state gives at that step. A melody's note
  can then end because the next one starts, rather than wherever its length
  drawn at the onset says, so a line neither overlaps its next note nor
  leaves a gap before it; in a chorale, a note starting in another voice
  need not end it. A step's onsets are chosen first, then its frames (a
  proper order within the step); the weights start at zero, so such a model
  starts as the one with lengths alone. ``"joint"``: as ``"onsets"``, and the
  notes going on into a step also decide together, from the lowest up: each
  one hears which of those below it (within an octave) ended and how many
  ended and went on. Decided one by one, as ``"onsets"`` decides them, a
  chord's notes each end with their own chance, so where the next chord
  starts fewer notes than end the texture loses a voice; decided in turn,
  the next note hears that enough have ended already.
- Positions (``positions``): the note decoder also hears, at every step,
  where it is: the step within its bar and the bar within the segment, as
  one-hot vectors. The seed decoder hears the same ``z`` at every step and
  otherwise has to count the steps itself to know where in the segment a
  note of ``z`` belongs.
- Bar plan (``bar_plan``): a dense layer on ``z`` (and the style) gives, for
  each bar, the probability that each pitch sounds in it, trained against
  the bar's real pitches (an auxiliary loss, as the bag-of-words loss of
  Zhao et al., 2017, makes a text VAE's code carry its words); the note
  decoder hears its bar's plan at every step. A decoder that hears its past
  can predict most steps from the step before and learns to ignore ``z``;
  the plan makes ``z`` carry which pitches each bar holds, in a form the
  decoder reads at once, so decoding freely it has the bar's pitches to go
  back to rather than the chord it last played.
- Scheduled sampling (``scheduled_sampling``, training only): in two passes,
  a share of the previous steps the decoder hears is replaced by its own
  draws from the first (teacher-forced) pass, so it learns to go on from its
  own mistakes. Evaluation mode always hears the truth.
- Style conditioning (``n_styles > 0``): a learned style embedding concatenated
  to the encoder's input and to the decoder's input at every step, and a
  classifier from ``z`` to the style (the MIDI-VAE idea). The classifier reads
  all of ``z``, or with ``style_latent = k`` only its first ``k`` dimensions,
  the *style code*: transfer then replaces that code by the target style's,
  and style interpolation moves it (:mod:`helpers.generate`). An optional
  adversary (``style_adversary``) tries to read the style from the rest of
  ``z`` through a reversed gradient, which pushes style out of it. The same
  class, not a fork.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

import torch
import torch.nn as nn

from .pianoroll import FRAME, ONSET, GridFormat

DECODERS = ("seed", "autoregressive", "hierarchical")
CHORDS = ("independent", "nade")
NOTES = ("frames", "whole")
NOTE_ENDS = ("length", "onsets", "joint")
CERTAIN = 30.0  # a logit for a cell the notes before it decide (sigmoid(30) = 1 - 1e-13)
OUTPUT_BIAS = -3.0  # initial note logit: sigmoid(-3) = 0.047
VOICE_REACH = 12  # semitones below an onset whose onsets the chord model's voices hear one by one
VOICE_COUNTS = 4  # the chord model's voices count a step's onsets up to this: 1, 2, 3, 4 or more


@dataclass
class VAEConfig:
    """Architecture of a :class:`GridVAE`, with the grid format it reads and writes; saved in every checkpoint."""

    format: GridFormat = field(default_factory=GridFormat)  # T, P, window, resolution, metre
    enc_hidden: int = 256         # encoder LSTM units per direction
    enc_layers: int = 2           # encoder LSTM layers (the design asks for two)
    bidirectional: bool = True    # read the segment both ways
    latent: int = 64              # size of z
    dec_hidden: int = 256         # decoder LSTM units
    dec_input: int = 128          # size of the dense projection of z fed at every step
    decoder: str = "seed"         # "seed", "autoregressive" or "hierarchical"
    chords: str = "independent"   # the notes of a step: "independent" Bernoullis or jointly ("nade")
    nade_hidden: int = 64         # hidden units of the chord model (chords="nade")
    chord_voices: bool = False    # the chord model also hears how many notes its step has started, and which
                                  # within an octave below, with weights from the decoder's state
    voices_before: bool = False   # the voices' count is read with how many notes sounded the step before
                                  # (chord_voices, whole notes)
    notes: str = "frames"         # how a note lasts: its "frames" chosen step by step, or "whole" (length at onset)
    length_rank: int = 16         # size of the pitch and length codes of the note-length model (notes="whole")
    note_ends: str = "length"     # what ends a note (notes="whole"): its "length" alone, or also the "onsets" it meets,
                                  # or "joint": the onsets and the notes below it that end at its step
    scheduled_sampling: float = 0.0  # share of previous steps replaced by the decoder's own draws in training
    positions: bool = False       # the decoder also hears each step's place: its step in the bar and its bar
    bar_plan: bool = False        # z also gives each bar's pitches (trained on the bar's real pitches), and the
                                  # decoder hears its bar's plan at every step
    dropout: float = 0.1          # between encoder layers and before the output layer
    n_styles: int = 0             # 0: unconditioned; else the number of styles
    style_dim: int = 16           # size of the style embedding
    classifier_hidden: int = 64   # hidden units of the z -> style classifier
    style_latent: int = 0         # dimensions of z (the first ones) the style classifier reads; 0: all of z
    style_adversary: float = 0.0  # weight of the reversed gradient of a classifier on the rest of z (0: none)

    @property
    def n_pitches(self) -> int:
        """``P``, from the format."""
        return self.format.n_pitches

    @property
    def seq_len(self) -> int:
        """``T``, steps per segment, from the format."""
        return self.format.segment_steps

    def validate(self) -> "VAEConfig":
        """Refuse impossible settings before anything is built, naming the field."""
        if not isinstance(self.format, GridFormat):
            raise ValueError(f"VAEConfig.format must be a GridFormat, got {type(self.format).__name__}")
        self.format.validate()
        positive = ("enc_hidden", "enc_layers", "latent", "dec_hidden", "dec_input", "style_dim",
                    "classifier_hidden", "nade_hidden", "length_rank")
        for name in positive:
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"VAEConfig.{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("bidirectional", "positions", "chord_voices", "voices_before", "bar_plan"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"VAEConfig.{name} must be True or False, got {getattr(self, name)!r}")
        if self.decoder not in DECODERS:
            raise ValueError(f"VAEConfig.decoder must be one of {DECODERS}, got {self.decoder!r}")
        if self.chords not in CHORDS:
            raise ValueError(f"VAEConfig.chords must be one of {CHORDS}, got {self.chords!r}")
        if self.notes not in NOTES:
            raise ValueError(f"VAEConfig.notes must be one of {NOTES}, got {self.notes!r}")
        if self.chord_voices and self.chords != "nade":
            raise ValueError(f"VAEConfig.chord_voices is part of the chord model: it needs chords='nade', "
                             f"got chords={self.chords!r}")
        if self.voices_before and not (self.chord_voices and self.notes == "whole"):
            raise ValueError("VAEConfig.voices_before reads the chord model's count of voices against the notes "
                             "held from the step before: it needs chord_voices=True and notes='whole', got "
                             f"chord_voices={self.chord_voices!r}, notes={self.notes!r}")
        if self.note_ends not in NOTE_ENDS:
            raise ValueError(f"VAEConfig.note_ends must be one of {NOTE_ENDS}, got {self.note_ends!r}")
        if self.note_ends != "length" and self.notes != "whole":
            raise ValueError(f"VAEConfig.note_ends={self.note_ends!r} decides how whole notes end: it needs "
                             f"notes='whole', got notes={self.notes!r}")
        for name, top in (("dropout", 1.0), ("scheduled_sampling", 1.0 + 1e-9)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < top:  # also refuses nan
                raise ValueError(f"VAEConfig.{name} must be in [0, 1{')' if top == 1.0 else ']'}, got {value!r}")
        if self.scheduled_sampling and self.decoder == "seed":
            raise ValueError("VAEConfig.scheduled_sampling needs a decoder that hears its previous steps "
                             "('autoregressive' or 'hierarchical'); the seed decoder does not")
        if not isinstance(self.n_styles, int) or self.n_styles < 0:
            raise ValueError(f"VAEConfig.n_styles must be a non-negative integer, got {self.n_styles!r}")
        if not isinstance(self.style_latent, int) or not 0 <= self.style_latent < self.latent:
            raise ValueError(f"VAEConfig.style_latent must be an integer in [0, latent={self.latent}), "
                             f"got {self.style_latent!r}")
        if not isinstance(self.style_adversary, (int, float)) or not 0 <= self.style_adversary < math.inf:
            raise ValueError(f"VAEConfig.style_adversary must be a finite number >= 0, got {self.style_adversary!r}")
        if self.style_adversary and not self.style_latent:
            raise ValueError("VAEConfig.style_adversary reads the rest of z beside the style code: set "
                             "style_latent > 0 too")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "VAEConfig":
        """The config from :meth:`to_dict`, or from a checkpoint of version 1 (loose grid fields).

        Version 1 stored ``n_pitches``, ``low``, ``seq_len`` and
        ``steps_per_quarter`` beside the architecture, in 4/4; they become
        the format. An unknown field is refused, naming it.
        """
        d = dict(d)
        if "format" in d:
            d["format"] = GridFormat.from_dict(d["format"])
        else:
            spq, low, n, seq_len = (d.pop(k) for k in ("steps_per_quarter", "low", "n_pitches", "seq_len"))
            bars, rest = divmod(seq_len, 4 * spq)
            if rest or not bars:
                raise ValueError(f"a version-1 model of {seq_len} steps at {spq} steps per quarter is not a whole "
                                 "number of 4/4 bars; it cannot be given a grid format")
            d["format"] = GridFormat(spq, low, low + n - 1, (4, 4), bars)
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"VAEConfig has no field(s) {sorted(unknown)}")
        return cls(**d)


# Named presets: start from one, then change fields (dataclasses.replace).
PRESETS = {
    "seed": VAEConfig(decoder="seed"),
    "autoregressive": VAEConfig(decoder="autoregressive"),
    "hierarchical": VAEConfig(decoder="hierarchical"),
    "smoke": VAEConfig(enc_hidden=32, latent=8, dec_hidden=32, dec_input=16, style_dim=4, classifier_hidden=16,
                       nade_hidden=8),
}


def preset(name: str, **changes) -> VAEConfig:
    """The named preset with some fields changed; an unknown name is refused, naming the choices."""
    if name not in PRESETS:
        raise ValueError(f"PRESET must be one of {sorted(PRESETS)}, got {name!r}")
    return replace(PRESETS[name], **changes)


class ChordNADE(nn.Module):
    """The cells of one step ``(.., 2P)`` modelled jointly given the decoder's state: a NADE.

    The cells are taken pitch by pitch from the lowest, each pitch's onset
    before its frame. Cell ``i`` has the logit ``b_i(h) + V_i . sigmoid(a_i)``,
    where ``b(h)`` is the independent model's output layer and
    ``a_i = c(h) + sum_{j<i} v_j W_j`` sums the cells already chosen, so
    ``p(v) = prod_i p(v_i | v_<i, h)`` is a proper distribution over the
    ``2^(2P)`` possible steps. With ``V = 0`` it is the independent model.

    With ``onsets_only`` (whole notes, where a sounding note's frame is its
    length's) it models the step's onsets alone, from the lowest pitch, and
    ``a`` starts from the frames of the step before too, ``(.., P)``: a new
    note is chosen against the notes held and those started below it. The
    frames keep the logits ``b(h)``, which :class:`GridVAE` replaces where the
    notes decide them.

    With ``voices``, each onset's logit also gets ``sum_k u_k(h) onset[i - k]
    + c_n(h)``: the onsets already chosen within :data:`VOICE_REACH`
    semitones below it, one by one, and how many the step has started,
    ``n = sum_{j<i} onset[j]``, counted up to :data:`VOICE_COUNTS` (``c_0 =
    0``; every count from ``VOICE_COUNTS`` on shares one weight), with
    weights ``u(h)`` and ``c(h)`` the decoder's state gives. With
    ``voices_before`` (and ``onsets_only``) the count's weight is ``c_{m,n}(h)``,
    one per pair of ``n`` and ``m``, the notes sounding the step before (also
    counted up to :data:`VOICE_COUNTS`; ``c_{0,0} = 0``): four voices that
    sounded and two started ask for other weights than one voice and two
    started. The count has a
    weight of its own per value, not one weight times the count: a weight
    that favours a third voice would otherwise favour a thirtieth thirty
    times as much, and a free-running decoder that once wrote a crowded step
    would crowd the next ones more. ``W`` and
    ``V`` are shared by every state, so a plain NADE learns one way for a
    step's notes to go together; with ``voices`` a one-voice style can stop
    after its first note while a chorale spaces four, each as its state
    says. The weights start at zero (the plain NADE).
    """

    def __init__(self, state_size: int, n_pitches: int, hidden: int, onsets_only: bool = False,
                 voices: bool = False, voices_before: bool = False):
        super().__init__()
        if voices_before and not (voices and onsets_only):
            raise ValueError("ChordNADE: voices_before needs voices and onsets_only")
        self.n_pitches = n_pitches
        self.voices_before = voices_before
        # the counts' weights: one per count started (0 to VOICE_COUNTS), and with voices_before per count that
        # sounded the step before too; the first (nothing started, nothing before) is 0
        counts = (VOICE_COUNTS + 1) * (VOICE_COUNTS + 1 if voices_before else 1) - 1
        self.voices = nn.Linear(state_size, VOICE_REACH + counts) if voices else None
        if self.voices is not None:
            nn.init.zeros_(self.voices.weight), nn.init.zeros_(self.voices.bias)
        pitches = torch.arange(n_pitches)
        if onsets_only:
            order = ONSET * n_pitches + pitches
        else:
            order = torch.stack([ONSET * n_pitches + pitches, FRAME * n_pitches + pitches], dim=1).reshape(-1)
        self.hidden_bias = nn.Linear(state_size, hidden)
        self.previous = nn.Linear(n_pitches, hidden, bias=False) if onsets_only else None
        self.W = nn.Parameter(torch.randn(len(order), hidden) * 0.01)
        self.V = nn.Parameter(torch.randn(len(order), hidden) * 0.01)
        self.register_buffer("order", order, persistent=False)  # NADE position -> cell
        # before[i, j] = 1 where cell j comes before cell i: the sums over the cells before as one matmul
        # (faster than a cumulative sum on a CPU, forward and backward, for (.., cells, cells) of memory)
        self.register_buffer("before", torch.ones(len(order), len(order)).tril(-1), persistent=False)

    def _start(self, state: torch.Tensor, previous) -> torch.Tensor:
        a = self.hidden_bias(state)
        if self.previous is not None:
            a = a + self.previous(previous.to(a.dtype))
        return a

    def logits(self, state: torch.Tensor, bias: torch.Tensor, cells: torch.Tensor, previous=None) -> torch.Tensor:
        """Each cell's logit given the true cells before it: ``(.., 2P)`` from the state ``(.., H)``, all at once
        (and, with ``onsets_only``, the frames of the step before, ``(.., P)``)."""
        v = cells[..., self.order].to(self.W.dtype)
        chosen_before = v.unsqueeze(-2) * self.before                  # (.., cells, cells): the cells before each
        a = self._start(state, previous).unsqueeze(-2) + chosen_before @ self.W  # (.., cells, hidden)
        correction = (torch.sigmoid(a) * self.V).sum(-1)              # (.., cells) in NADE order
        logits = bias.index_add(bias.dim() - 1, self.order, correction.to(bias.dtype))
        if self.voices is None:
            return logits
        p = self.n_pitches
        onsets = cells[..., ONSET * p:(ONSET + 1) * p].to(self.W.dtype)
        u = self.voices(state)
        below = nn.functional.pad(onsets, (VOICE_REACH, 0)).unfold(-1, VOICE_REACH, 1)[..., :p, :]  # (.., P, R)
        counted = (onsets.cumsum(-1) - onsets).clamp(max=VOICE_COUNTS).long()  # (.., P): onsets below, capped
        counted = counted + self._held(previous, keepdim=True)
        heard = (below @ u[..., :VOICE_REACH, None])[..., 0] + self._counts(u).gather(-1, counted)
        logits.narrow(-1, ONSET * p, p).add_(heard.to(logits.dtype))  # a new tensor: index_add does not write bias
        return logits

    @staticmethod
    def _counts(u: torch.Tensor) -> torch.Tensor:
        """The weight of each count of onsets below, ``(.., VOICE_COUNTS + 1)``: none for no onset; with
        ``voices_before``, ``(.., (VOICE_COUNTS + 1)^2)``, the counts after each count held before in turn."""
        return nn.functional.pad(u[..., VOICE_REACH:], (1, 0))

    def _held(self, previous, keepdim: bool = False) -> torch.Tensor | int:
        """Where the counts after the count held before begin in :meth:`_counts`, ``(..)``, from the frames of
        the step before ``(.., P)`` (0 without ``voices_before``)."""
        if not self.voices_before:
            return 0
        return previous.sum(-1, keepdim=keepdim).clamp(max=VOICE_COUNTS).long() * (VOICE_COUNTS + 1)

    def sample(self, state: torch.Tensor, bias: torch.Tensor, pick, previous=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The cells the NADE models, cell by cell: ``pick(cell, logit (B,)) -> (B,)`` chooses each one.

        Returns the step's cells ``(B, 2P)`` (zero where the NADE does not
        model them) and logits: each modelled cell's given the cells chosen
        before it, ``bias`` elsewhere.
        """
        a = self._start(state, previous)
        cells, logits = torch.zeros_like(bias), bias.clone()
        u = None if self.voices is None else self.voices(state)
        counts = None if u is None else self._counts(u)
        held = None if u is None else self._held(previous)
        for i, cell in enumerate(self.order.tolist()):
            logit = bias[:, cell] + (torch.sigmoid(a) * self.V[i]).sum(-1)
            plane, pitch = divmod(cell, self.n_pitches)
            if u is not None and plane == ONSET:  # the onsets already chosen below this pitch, read from cells
                onsets = cells[:, ONSET * self.n_pitches:ONSET * self.n_pitches + pitch]
                low = max(0, pitch - VOICE_REACH)
                counted = onsets.sum(-1).clamp(max=VOICE_COUNTS).long() + held
                logit = logit + ((onsets[:, low:] * u[:, low - pitch + VOICE_REACH:VOICE_REACH]).sum(-1)
                                 + counts.gather(-1, counted[:, None])[:, 0]).to(logit.dtype)
            value = pick(cell, logit).to(a.dtype)
            a = a + value[:, None] * self.W[i]
            cells[:, cell], logits[:, cell] = value, logit
        return cells, logits


class NoteLengths(nn.Module):
    """How long a note lasts, decided at its start: a distribution over ``1..K`` steps per pitch.

    The decoder's state at the note's first step gives a code per pitch
    (``keys``, ``(.., P, rank)``); each length has a learnt code, and each
    pitch a learnt bias per length, so ``log P(L = k) = log_softmax(key .
    length_k + bias_p,k)``. A note is then continued step by step with the
    probability :meth:`continuation` gives, which draws exactly that length.
    """

    def __init__(self, state_size: int, n_pitches: int, max_steps: int, rank: int):
        super().__init__()
        self.n_pitches, self.max_steps, self.rank = n_pitches, max_steps, rank
        self.to_keys = nn.Linear(state_size, n_pitches * rank)
        self.codes = nn.Parameter(torch.randn(max_steps, rank) * 0.1)
        # Start near the data: most notes last a few steps (geometric, half gone after about 3).
        self.bias = nn.Parameter(-0.25 * torch.arange(max_steps, dtype=torch.float32).expand(n_pitches, -1).clone())

    @staticmethod
    def starts(frame: torch.Tensor, onset: torch.Tensor, sounding: torch.Tensor) -> torch.Tensor:
        """Where a note starts, and so draws its length: an onset, or a frame after silence (``sounding``: the
        pitch's frame the step before). The teacher-forced and the step-by-step decoders both ask this."""
        return onset | (frame & ~sounding)

    def keys(self, state: torch.Tensor) -> torch.Tensor:
        """``(.., P, rank)`` from the decoder's state ``(.., H)``."""
        return self.to_keys(state).unflatten(-1, (self.n_pitches, self.rank))

    def log_pmf(self, keys: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        """``log P(L = k)`` for ``k = 1..K``, ``(N, K)``, from keys ``(N, rank)`` of pitches ``(N,)``."""
        return torch.log_softmax(keys.float() @ self.codes.float().T + self.bias[pitch].float(), dim=-1)

    @staticmethod
    def continuation(log_pmf: torch.Tensor, age: torch.Tensor) -> torch.Tensor:
        """The logit that a note that has sounded ``age`` steps (``(N,)``, >= 1) sounds one more:
        ``log P(L > a) - log P(L = a)``. An age past ``K`` counts as ``K - 1``."""
        a = age.clamp(1, log_pmf.shape[-1] - 1).long()[:, None]
        lengths = torch.arange(1, log_pmf.shape[-1] + 1, device=log_pmf.device)
        longer = torch.where(lengths > a, log_pmf, torch.full_like(log_pmf, -math.inf)).logsumexp(-1)  # log P(L > a)
        return longer - log_pmf.gather(1, a - 1)[:, 0]


class NoteEnds(nn.Module):
    """How the onsets of a step end the notes that sound into it: a logit added to each one's continuation.

    For a note of pitch ``i``, the onsets chosen at its step at pitches
    ``i - reach .. i + reach``, and their number, each with a weight the
    decoder's state gives at that step: ``sum_k w_k(h) onset[i + k] +
    w_n(h) * sum_j onset[j]``. With ``joint``, also the notes going on into
    the step below ``i`` (decided before it, from the lowest up): which of
    them within ``reach`` below ended, how many ended, how many went on. The
    weights start at zero (the length alone decides); the state decides how
    a style's notes meet the next ones.
    """

    def __init__(self, state_size: int, reach: int = 12, joint: bool = False):
        super().__init__()
        self.reach, self.joint = reach, joint
        # one per pitch offset and one for the count; joint: one per offset below and two counts
        self.weights = nn.Linear(state_size, 2 * reach + 2 + (reach + 2 if joint else 0))
        nn.init.zeros_(self.weights.weight)
        nn.init.zeros_(self.weights.bias)

    def forward(self, state: torch.Tensor, onset: torch.Tensor, ended=None, held=None) -> torch.Tensor:
        """``(.., P)`` logits from the state ``(.., H)`` and the step's onsets ``(.., P)``; when ``joint``, also
        ``ended`` and ``held`` ``(.., P)``: the notes going on into the step that ended and that went on (only
        those below each pitch count, so pitches not yet decided may hold anything)."""
        w = self.weights(state)
        onset = onset.to(w.dtype)
        r = self.reach
        windows = nn.functional.pad(onset, (r, r)).unfold(-1, 2 * r + 1, 1)  # (.., P, 2R+1)
        logit = (windows @ w[..., :2 * r + 1, None])[..., 0] + onset.sum(-1, keepdim=True) * w[..., 2 * r + 1:2 * r + 2]
        if not self.joint:
            return logit
        if ended is None or held is None:
            raise ValueError("joint note ends need the notes below that ended and that went on")
        ended, held = ended.to(w.dtype), held.to(w.dtype)
        below = nn.functional.pad(ended, (r, 0)).unfold(-1, r, 1)[..., :-1, :]   # (.., P, R): ended[i-R .. i-1]
        tail = w[..., 2 * r + 2:]
        return (logit + (below @ tail[..., :r, None])[..., 0]
                + (ended.cumsum(-1) - ended) * tail[..., r:r + 1] + (held.cumsum(-1) - held) * tail[..., r + 1:])


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; the gradient times ``-scale`` backward (the adversary's hold on the encoder)."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None


class GridVAE(nn.Module):
    """Recurrent VAE over ``(B, T, 2, P)`` grids; see the module docstring."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = c = config.validate()
        if c.decoder == "hierarchical" and c.seq_len % c.format.steps_per_bar:
            raise ValueError(f"the hierarchical decoder needs whole bars: {c.seq_len} steps, "
                             f"{c.format.steps_per_bar} per bar")
        features = 2 * c.n_pitches
        style_in = c.style_dim if c.n_styles else 0
        self.style_embedding = nn.Embedding(c.n_styles, c.style_dim) if c.n_styles else None
        self.encoder = nn.LSTM(features + style_in, c.enc_hidden, num_layers=c.enc_layers, batch_first=True,
                               bidirectional=c.bidirectional, dropout=c.dropout if c.enc_layers > 1 else 0.0)
        summary = c.enc_hidden * (2 if c.bidirectional else 1)
        self.to_mu = nn.Linear(summary, c.latent)
        self.to_logvar = nn.Linear(summary, c.latent)
        self.from_z = nn.Linear(c.latent, c.dec_input)
        self.init_state = nn.Linear(c.latent, 2 * c.dec_hidden)
        if c.decoder == "hierarchical":
            self.conductor = nn.LSTM(c.dec_input + style_in, c.dec_hidden, batch_first=True)
            self.bar_embedding = nn.Linear(c.dec_hidden, c.dec_input)
            self.bar_state = nn.Linear(c.dec_input, 2 * c.dec_hidden)
        ar_in = 0 if c.decoder == "seed" else features
        pos_in = c.format.steps_per_bar + c.format.segment_bars if c.positions else 0
        plan_in = c.n_pitches if c.bar_plan else 0
        self.plan = nn.Linear(c.latent + style_in, c.format.segment_bars * c.n_pitches) if c.bar_plan else None
        self.decoder = nn.LSTM(c.dec_input + style_in + pos_in + plan_in + ar_in, c.dec_hidden, batch_first=True)
        self.dropout = nn.Dropout(c.dropout)
        self.to_logits = nn.Linear(c.dec_hidden, features)
        # Grids are sparse (about 7% of frames sound, 2% are onsets). Starting the output at that
        # prior spares the first optimiser steps from pushing every logit down, which otherwise
        # saturates the decoder LSTM into a constant output it never leaves.
        nn.init.constant_(self.to_logits.bias, OUTPUT_BIAS)
        self.chord_model = (ChordNADE(c.dec_hidden, c.n_pitches, c.nade_hidden, onsets_only=c.notes == "whole",
                                      voices=c.chord_voices, voices_before=c.voices_before)
                            if c.chords == "nade" else None)
        self.note_lengths = (NoteLengths(c.dec_hidden, c.n_pitches, c.seq_len, c.length_rank)
                             if c.notes == "whole" else None)
        self.note_ends = NoteEnds(c.dec_hidden, joint=c.note_ends == "joint") if c.note_ends != "length" else None
        code = c.style_latent or c.latent
        self.classifier = (nn.Sequential(nn.Linear(code, c.classifier_hidden), nn.ReLU(),
                                         nn.Linear(c.classifier_hidden, c.n_styles)) if c.n_styles else None)
        self.adversary = (nn.Sequential(nn.Linear(c.latent - c.style_latent, c.classifier_hidden), nn.ReLU(),
                                        nn.Linear(c.classifier_hidden, c.n_styles))
                          if c.n_styles and c.style_adversary else None)

    # -------------------------------------------------------------- pieces
    def _style(self, style, batch: int, steps: int):
        """``(B, T, style_dim)`` embedding repeated over steps, or ``None``.

        ``style`` is ``(B,)`` indices, or ``(B, n_styles)`` weights that mix the
        styles' embeddings (for moving from one style to another).
        """
        if self.style_embedding is None:
            return None
        if style is None:
            raise ValueError("this model is style-conditioned: pass style (B,) indices")
        style = style.to(self.to_mu.weight.device)
        if style.is_floating_point():
            embedded = style @ self.style_embedding.weight  # (B, n_styles) @ (n_styles, D)
        else:
            embedded = self.style_embedding(style)
        return embedded[:, None, :].expand(batch, steps, -1)

    def encode(self, x: torch.Tensor, style=None):
        """``x`` (B, T, 2, P) -> ``mu``, ``logvar``, each (B, latent)."""
        b, t = x.shape[:2]
        h = x.reshape(b, t, -1)  # (B, T, 2P): planes stay together per step
        s = self._style(style, b, t)
        if s is not None:
            h = torch.cat([h, s.to(h.dtype)], dim=-1)
        _, (h_n, _) = self.encoder(h)
        # h_n: (layers * directions, B, H); the last layer's final states, both directions.
        directions = 2 if self.config.bidirectional else 1
        summary = torch.cat(list(h_n[-directions:]), dim=-1)  # (B, H * directions)
        return self.to_mu(summary), self.to_logvar(summary)

    @staticmethod
    def reparameterize(mu, logvar):
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    @staticmethod
    def _state(linear_out):
        """An LSTM state ``(h, c)`` from a dense layer's output ``(.., 2H)``."""
        h, c = torch.tanh(linear_out).chunk(2, dim=-1)
        return h, c

    def _conditioning(self, z, style, steps):
        """What the note decoder hears from ``z`` at every step, ``(B, T, C)``, and where its state starts.

        Returns the inputs and the initial states: one ``(h, c)`` of ``(B, H)``
        each for a flat decoder, or ``(B, bars, H)`` each (one per bar) for the
        hierarchical decoder.
        """
        b = z.shape[0]
        style_steps = self._style(style, b, steps)
        if self.config.decoder != "hierarchical":
            parts = [self.from_z(z)[:, None, :].expand(b, steps, -1)]
            start = self._state(self.init_state(z))
        else:
            per_bar = self.config.format.steps_per_bar
            if steps % per_bar:
                raise ValueError(f"the hierarchical decoder decodes whole bars of {per_bar} steps, not {steps}")
            bars = steps // per_bar
            conductor_in = self.from_z(z)[:, None, :].expand(b, bars, -1)
            if style_steps is not None:
                conductor_in = torch.cat([conductor_in, style_steps[:, :bars].to(conductor_in.dtype)], dim=-1)
            h0, c0 = self._state(self.init_state(z))
            out, _ = self.conductor(conductor_in, (h0[None].contiguous(), c0[None].contiguous()))
            embedding = self.bar_embedding(out)                       # (B, bars, C): one per bar
            parts = [embedding.repeat_interleave(per_bar, dim=1)]
            start = self._state(self.bar_state(embedding))
        if style_steps is not None:
            parts.append(style_steps.to(parts[0].dtype))
        if self.config.positions:
            parts.append(self._positions(steps, z.device, parts[0].dtype).expand(b, -1, -1))
        if self.plan is not None:  # each step hears its bar's plan (bars counted modulo the segment's)
            per_bar, bars = self.config.format.steps_per_bar, self.config.format.segment_bars
            bar = (torch.arange(steps, device=z.device) // per_bar) % bars
            parts.append(torch.sigmoid(self.bar_plan(z, style))[:, bar].to(parts[0].dtype))
        return torch.cat(parts, dim=-1), start

    def bar_plan(self, z, style=None):
        """The plan's logits ``(B, bars, P)``: whether each pitch sounds in each bar of the segment, from ``z``
        (and the style, for a style model). ``None`` for a model without a plan (``bar_plan`` False)."""
        if self.plan is None:
            return None
        style_vector = self._style(style, z.shape[0], 1)
        h = z if style_vector is None else torch.cat([z, style_vector[:, 0].to(z.dtype)], dim=-1)
        return self.plan(h).view(z.shape[0], self.config.format.segment_bars, self.config.n_pitches)

    def _positions(self, steps: int, device, dtype):
        """``(1, T, steps_per_bar + bars)``: each step's place in its bar and its bar's place in the segment,
        one-hot (bars counted modulo the segment's, should a decoder run longer)."""
        fmt = self.config.format
        t = torch.arange(steps, device=device)
        in_bar = nn.functional.one_hot(t % fmt.steps_per_bar, fmt.steps_per_bar)
        bar = nn.functional.one_hot((t // fmt.steps_per_bar) % fmt.segment_bars, fmt.segment_bars)
        return torch.cat([in_bar, bar], dim=-1).to(dtype)[None]

    def _output(self, out, cells=None):
        """Logits ``(B, T, 2P)`` from decoder outputs ``(B, T, H)``; the chord model and whole notes also read the
        true ``cells``."""
        out = self.dropout(out)
        bias = self.to_logits(out)
        previous = None  # with whole notes: each pitch's true frame the step before, (B, T, P)
        if self.note_lengths is not None:
            frame = cells.view(*cells.shape[:2], 2, self.config.n_pitches)[:, :, FRAME] > 0.5
            previous = torch.cat([torch.zeros_like(frame[:, :1]), frame[:, :-1]], dim=1)
        if self.chord_model is not None:
            bias = self.chord_model.logits(out, bias, cells, previous)
        if self.note_lengths is not None:
            return self._whole_notes(out, bias, cells, previous)
        return bias

    def _whole_notes(self, out, bias, cells, previous):
        """Whole notes, teacher-forced: every frame's logit given the true notes before it, ``(B, T, 2P)``.

        Where the onset is chosen the frame is certain; where the pitch was
        silent the step before, the frame is the model's own cell (a note with
        no onset, as at a segment's first step); where a note sounds, its
        frame is that note's continuation at its age, from the length
        distribution at its start. ``previous``: each pitch's true frame the step before, ``(B, T, P)``.
        """
        b, t, p = cells.shape[0], cells.shape[1], self.config.n_pitches
        grid = cells.view(b, t, 2, p) > 0.5
        frame, onset = grid[:, :, FRAME], grid[:, :, ONSET]
        starts = self.note_lengths.starts(frame, onset, previous)
        steps = torch.arange(t, device=cells.device)[None, :, None].expand(b, t, p)
        start_at = torch.where(starts, steps, torch.full_like(steps, -1)).cummax(dim=1).values
        logits = bias.view(b, t, 2, p)
        frames = _onset_sounds(logits[:, :, FRAME], onset)
        bi, ti, pi = (previous & ~onset).nonzero(as_tuple=True)  # a note going on
        if len(bi):
            si = start_at[bi, ti, pi]
            keys = self.note_lengths.keys(out)[bi, si, pi]  # (N, rank): the state at each note's start
            going = self.note_lengths.continuation(self.note_lengths.log_pmf(keys, pi), ti - si)
            if self.note_ends is not None:  # and the onsets of its step (chosen before the frames)
                ended = held = None
                if self.note_ends.joint:  # and the notes going on below it that ended, and that went on
                    going_on = previous & ~onset
                    ended, held = going_on & ~frame, going_on & frame
                going = going + self.note_ends(out, onset, ended, held)[bi, ti, pi].float()
            frames = frames.index_put((bi, ti, pi), going.to(frames.dtype))
        return torch.stack([frames, logits[:, :, ONSET]], dim=2).view(b, t, 2 * p)

    def decode(self, z, style=None, target=None, steps: int | None = None, heard=None):
        """Logits ``(B, T, 2, P)`` given ``z`` (B, latent), all steps at once.

        The seed decoder with independent cells needs nothing else. A decoder
        that hears its previous steps, or a chord model, needs ``target``
        (B, T, 2, P): the decoder hears its previous steps and the chord model
        the cells below each one (teacher forcing, as in training and in the
        ELBO). ``heard`` replaces the previous steps the decoder hears
        (scheduled sampling); the loss is still against ``target``. Music is
        decoded freely, step by step, only by :func:`helpers.generate.decode`.
        """
        c = self.config
        steps = steps or c.seq_len
        b, p = z.shape[0], c.n_pitches
        if target is None and (c.decoder != "seed" or c.chords != "independent" or c.notes != "frames"):
            raise ValueError(f"the {c.decoder} decoder with {c.chords} chords and notes by {c.notes} reads the true "
                             "notes: pass target (teacher forcing), or decode freely with helpers.generate.decode")
        inputs, (h0, c0) = self._conditioning(z, style, steps)
        if c.decoder != "seed":
            heard = target if heard is None else heard
            previous = torch.cat([torch.zeros_like(heard[:, :1]), heard[:, :-1]], dim=1).reshape(b, steps, 2 * p)
            inputs = torch.cat([inputs, previous.to(inputs.dtype)], dim=-1)
        if c.decoder == "hierarchical":  # every bar from its own start: bars side by side in the batch
            bars = h0.shape[1]
            out, _ = self.decoder(inputs.reshape(b * bars, steps // bars, -1),
                                  (h0.reshape(1, b * bars, -1).contiguous(), c0.reshape(1, b * bars, -1).contiguous()))
            out = out.reshape(b, steps, -1)
        else:
            out, _ = self.decoder(inputs, (h0[None].contiguous(), c0[None].contiguous()))
        cells = None if target is None else target.reshape(b, steps, 2 * p)
        return self._output(out, cells).view(b, steps, 2, p)

    def decode_steps(self, z, style, steps, choose):
        """One step at a time, each step's notes chosen by ``choose`` and fed back as the next step's past.

        ``choose`` owns the rules that turn probabilities into notes (see
        :func:`helpers.generate.decode`): ``choose(logits (B, 2P)) -> cells``
        for independent cells; with the chord model, ``choose.cell(index,
        logit (B,)) -> (B,)`` for each cell in the model's order (with whole
        notes, the onsets, then ``choose.frames(logits (B, P))``), then
        ``choose.commit(cells)``; with ``note_ends`` and no chord model,
        ``choose.step_onsets(logits (B, P))``, then the frames and the
        commit. Returns the logits ``(B, T, 2, P)``.
        """
        c = self.config
        b, p = z.shape[0], c.n_pitches
        inputs, start = self._conditioning(z, style, steps)
        hierarchical = c.decoder == "hierarchical"
        per_bar = c.format.steps_per_bar
        state = None if hierarchical else tuple(s[None].contiguous() for s in start)
        previous = torch.zeros(b, 2 * p, device=z.device, dtype=inputs.dtype)
        notes = _Notes(self.note_lengths, b, z.device) if self.note_lengths is not None else None
        logits = []
        for t in range(steps):
            if hierarchical and t % per_bar == 0:  # the note decoder starts again from this bar's embedding
                state = tuple(s[:, t // per_bar][None].contiguous() for s in start)
            step_in = inputs[:, t] if c.decoder == "seed" else torch.cat([inputs[:, t], previous], dim=-1)
            out, state = self.decoder(step_in[:, None], state)
            bias = self.to_logits(out[:, 0])
            if self.chord_model is not None or self.note_ends is not None:  # the onsets first, then the frames
                if self.chord_model is not None:
                    cells, step = self.chord_model.sample(out[:, 0], bias, choose.cell,
                                                          None if notes is None else notes.sounding)
                else:
                    step, cells = bias, torch.zeros_like(bias)
                    onsets = choose.step_onsets(bias.view(b, 2, p)[:, ONSET])
                    cells.view(b, 2, p)[:, ONSET] = onsets.to(cells.dtype)
                if notes is not None:  # the onsets are chosen; now every frame, certain at an onset
                    step, grid = notes.logits(step).view(b, 2, p), cells.view(b, 2, p)
                    onset = grid[:, ONSET] > 0.5
                    joint = self.note_ends is not None and self.note_ends.joint
                    by_length = step[:, FRAME].clone() if joint else None
                    if self.note_ends is not None:  # a sounding note hears the onsets it meets
                        none = torch.zeros_like(onset) if joint else None  # (joint: no note below decided yet)
                        step[:, FRAME] = step[:, FRAME] + torch.where(
                            notes.sounding, self.note_ends(out[:, 0], onset, none, none).to(step.dtype), 0.0)
                    step[:, FRAME] = _onset_sounds(step[:, FRAME], onset)
                    grid[:, FRAME] = choose.frames(step[:, FRAME]).to(cells.dtype)
                    if joint:  # from the lowest up, each going note hears those below it
                        going_on = notes.sounding & ~onset
                        for i in going_on.any(0).nonzero()[:, 0].tolist():
                            frame = grid[:, FRAME] > 0.5
                            ends = self.note_ends(out[:, 0], onset, going_on & ~frame, going_on & frame)[:, i]
                            step[:, FRAME, i] = torch.where(going_on[:, i], by_length[:, i] + ends.to(step.dtype),
                                                            step[:, FRAME, i])
                            grid[:, FRAME, i] = choose.cell(FRAME * p + i, step[:, FRAME, i]).to(cells.dtype)
                    step = step.view(b, 2 * p)
                cells = choose.commit(cells)
            elif notes is not None:
                step = notes.logits(bias)
                cells = choose(step)
            else:
                step, cells = bias, choose(bias)
            if notes is not None:
                notes.commit(out[:, 0], cells)
            logits.append(step)
            previous = cells.to(inputs.dtype)
        return torch.stack(logits, dim=1).view(b, steps, 2, p)

    def style_code(self, z):
        """The part of ``z`` the style classifier reads: its first ``style_latent`` dimensions (all of ``z`` if 0)."""
        return z[:, :self.config.style_latent] if self.config.style_latent else z

    def classify(self, z):
        """Style logits ``(B, n_styles)`` from ``z``, or ``None`` for a plain model."""
        return self.classifier(self.style_code(z)) if self.classifier is not None else None

    def _own_draws(self, z, style, x):
        """The decoder's own Bernoulli draws of every step, teacher-forced (the first pass of scheduled sampling)."""
        with torch.no_grad():
            probs = torch.sigmoid(self.decode(z, style, target=x, steps=x.shape[1]).float())
            drawn = (torch.rand_like(probs) < probs).to(x.dtype)
            drawn[:, :, FRAME] = torch.maximum(drawn[:, :, FRAME], drawn[:, :, ONSET])  # an onset sounds
        mixed = torch.rand(x.shape[0], x.shape[1], 1, 1, device=x.device) < self.config.scheduled_sampling
        return torch.where(mixed, drawn, x)

    def forward(self, x, style=None, sample: bool = True):
        """Returns ``logits`` (B, T, 2, P), ``mu``, ``logvar``, ``z`` (B, latent), ``style_logits``,
        ``adversary_logits`` and ``plan_logits`` (B, bars, P) (each ``None`` where the model has none).

        ``z`` is drawn from the posterior (``sample=True``, as the ELBO needs) or is its mean.
        In training mode with ``scheduled_sampling``, the decoder hears some of its own draws.
        """
        mu, logvar = self.encode(x, style)
        z = self.reparameterize(mu, logvar) if sample else mu
        heard = None
        if self.training and self.config.scheduled_sampling:
            heard = self._own_draws(z, style, x)
        logits = self.decode(z, style, target=x, steps=x.shape[1], heard=heard)
        adversary = None
        if self.adversary is not None:
            rest = _ReverseGradient.apply(z[:, self.config.style_latent:], self.config.style_adversary)
            adversary = self.adversary(rest)
        return {"logits": logits, "mu": mu, "logvar": logvar, "z": z, "style_logits": self.classify(z),
                "adversary_logits": adversary, "plan_logits": self.bar_plan(z, style)}


def _onset_sounds(frame_logits: torch.Tensor, onset: torch.Tensor) -> torch.Tensor:
    """Frame logits with the frame at every onset certain: a note that starts sounds (whole notes)."""
    return torch.where(onset, torch.full_like(frame_logits, CERTAIN), frame_logits)


class _Notes:
    """The notes sounding while a whole-note decoder decodes freely: each one's length distribution and age."""

    def __init__(self, lengths: NoteLengths, batch: int, device):
        self.lengths = lengths
        p, k = lengths.n_pitches, lengths.max_steps
        self.log_pmf = torch.zeros(batch, p, k, device=device)
        self.age = torch.zeros(batch, p, dtype=torch.long, device=device)
        self.sounding = torch.zeros(batch, p, dtype=torch.bool, device=device)
        self.pitch = torch.arange(p, device=device).repeat(batch)

    def logits(self, bias: torch.Tensor) -> torch.Tensor:
        """This step's logits ``(B, 2P)``: a sounding note's frame is its continuation at its age."""
        b, p = self.sounding.shape
        logits = bias.view(b, 2, p).clone()
        if self.sounding.any():
            going = self.lengths.continuation(self.log_pmf.view(b * p, -1), self.age.view(-1)).view(b, p)
            logits[:, FRAME] = torch.where(self.sounding, going.to(logits.dtype), logits[:, FRAME])
        return logits.view(b, 2 * p)

    def commit(self, state: torch.Tensor, cells: torch.Tensor) -> None:
        """After the step's cells ``(B, 2P)`` are chosen: notes that start now draw their length from ``state``."""
        b, p = self.sounding.shape
        grid = cells.view(b, 2, p).bool()
        frame, onset = grid[:, FRAME], grid[:, ONSET]
        starts = self.lengths.starts(frame, onset, self.sounding)
        if starts.any():
            new = self.lengths.log_pmf(self.lengths.keys(state).reshape(b * p, -1), self.pitch).view(b, p, -1)
            self.log_pmf = torch.where(starts[..., None], new, self.log_pmf)
        self.age = torch.where(starts, torch.ones_like(self.age), self.age + 1)
        self.sounding = frame


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
