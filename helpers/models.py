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
- Style conditioning (``n_styles > 0``): a learned style embedding concatenated
  to the encoder's input and to the decoder's input at every step, and a
  classifier from ``z`` to the style, so that ``z`` keeps a compact style
  representation (the MIDI-VAE idea). The same class, not a fork.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

import torch
import torch.nn as nn

from .pianoroll import GridFormat

DECODERS = ("seed", "autoregressive")
OUTPUT_BIAS = -3.0  # initial note logit: sigmoid(-3) = 0.047


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
    decoder: str = "seed"         # "seed" or "autoregressive"
    dropout: float = 0.1          # between encoder layers and before the output layer
    n_styles: int = 0             # 0: unconditioned; else the number of styles
    style_dim: int = 16           # size of the style embedding
    classifier_hidden: int = 64   # hidden units of the z -> style classifier

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
                    "classifier_hidden")
        for name in positive:
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"VAEConfig.{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.decoder not in DECODERS:
            raise ValueError(f"VAEConfig.decoder must be one of {DECODERS}, got {self.decoder!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"VAEConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.n_styles, int) or self.n_styles < 0:
            raise ValueError(f"VAEConfig.n_styles must be a non-negative integer, got {self.n_styles!r}")
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
    "smoke": VAEConfig(enc_hidden=32, latent=8, dec_hidden=32, dec_input=16, style_dim=4, classifier_hidden=16),
}


def preset(name: str, **changes) -> VAEConfig:
    """The named preset with some fields changed; an unknown name is refused, naming the choices."""
    if name not in PRESETS:
        raise ValueError(f"PRESET must be one of {sorted(PRESETS)}, got {name!r}")
    return replace(PRESETS[name], **changes)


class GridVAE(nn.Module):
    """Recurrent VAE over ``(B, T, 2, P)`` grids; see the module docstring."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = c = config.validate()
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
        ar_in = features if c.decoder == "autoregressive" else 0
        self.decoder = nn.LSTM(c.dec_input + style_in + ar_in, c.dec_hidden, batch_first=True)
        self.dropout = nn.Dropout(c.dropout)
        self.to_logits = nn.Linear(c.dec_hidden, features)
        # Grids are sparse (about 7% of frames sound, 2% are onsets). Starting the output at that
        # prior spares the first optimiser steps from pushing every logit down, which otherwise
        # saturates the decoder LSTM into a constant output it never leaves.
        nn.init.constant_(self.to_logits.bias, OUTPUT_BIAS)
        self.classifier = (nn.Sequential(nn.Linear(c.latent, c.classifier_hidden), nn.ReLU(),
                                         nn.Linear(c.classifier_hidden, c.n_styles)) if c.n_styles else None)

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

    def _decoder_inputs(self, z, style, steps):
        b = z.shape[0]
        parts = [self.from_z(z)[:, None, :].expand(b, steps, -1)]
        s = self._style(style, b, steps)
        if s is not None:
            parts.append(s.to(parts[0].dtype))
        h0, c0 = torch.tanh(self.init_state(z)).chunk(2, dim=-1)
        return torch.cat(parts, dim=-1), (h0[None].contiguous(), c0[None].contiguous())

    def decode(self, z, style=None, target=None, steps: int | None = None):
        """Logits ``(B, T, 2, P)`` given ``z`` (B, latent), all steps at once.

        The seed decoder needs nothing else. The autoregressive decoder needs
        ``target`` (B, T, 2, P), whose previous steps it hears (teacher
        forcing, as in training and in the ELBO). Music is decoded freely,
        step by step, only by :func:`helpers.generate.decode`.
        """
        steps = steps or self.config.seq_len
        b, p = z.shape[0], self.config.n_pitches
        inputs, state = self._decoder_inputs(z, style, steps)
        if self.config.decoder == "autoregressive":
            if target is None:
                raise ValueError("the autoregressive decoder hears the previous steps: pass target (teacher "
                                 "forcing), or decode freely with helpers.generate.decode")
            previous = torch.cat([torch.zeros_like(target[:, :1]), target[:, :-1]], dim=1).reshape(b, steps, 2 * p)
            inputs = torch.cat([inputs, previous.to(inputs.dtype)], dim=-1)
        out, _ = self.decoder(inputs, state)
        return self.to_logits(self.dropout(out)).view(b, steps, 2, p)

    def decode_steps(self, z, style, steps, choose):
        """One step at a time, feeding back ``choose(logits)`` (B, 2P) as the next step's previous notes.

        The engine of :func:`helpers.generate.decode` (which owns the rules
        that turn probabilities into notes); the seed decoder ignores what is
        fed back.
        """
        b, p = z.shape[0], self.config.n_pitches
        inputs, state = self._decoder_inputs(z, style, steps)
        previous = torch.zeros(b, 2 * p, device=z.device, dtype=inputs.dtype)
        autoregressive = self.config.decoder == "autoregressive"
        logits = []
        for t in range(steps):
            step_in = torch.cat([inputs[:, t], previous], dim=-1) if autoregressive else inputs[:, t]
            out, state = self.decoder(step_in[:, None], state)
            step = self.to_logits(out[:, 0])
            logits.append(step)
            previous = choose(step).to(inputs.dtype)
        return torch.stack(logits, dim=1).view(b, steps, 2, p)

    def classify(self, z):
        """Style logits ``(B, n_styles)`` from ``z``, or ``None`` for a plain model."""
        return self.classifier(z) if self.classifier is not None else None

    def forward(self, x, style=None, sample: bool = True):
        """Returns ``logits`` (B, T, 2, P), ``mu``, ``logvar``, ``z`` (B, latent), ``style_logits``.

        ``z`` is drawn from the posterior (``sample=True``, as the ELBO needs) or is its mean.
        """
        mu, logvar = self.encode(x, style)
        z = self.reparameterize(mu, logvar) if sample else mu
        logits = self.decode(z, style, target=x, steps=x.shape[1])
        return {"logits": logits, "mu": mu, "logvar": logvar, "z": z, "style_logits": self.classify(z)}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
