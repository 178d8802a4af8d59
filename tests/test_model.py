"""The VAE and its loss: shapes, closed-form KL, a loss that falls, conditioning, bad settings."""
import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers import generate
from helpers.losses import LossConfig, active_dimensions, beta_at, kl_per_dim, make_step, vae_loss
from helpers.models import PRESETS, VOICE_REACH, GridVAE, VAEConfig
from helpers.pianoroll import GridFormat, grid_to_notes

P, T = 12, 16
FMT = GridFormat(low=60, high=60 + P - 1, segment_bars=1)  # T = 16: one bar of 4/4


def tiny(**changes):
    return GridVAE(replace(PRESETS["smoke"], format=FMT, dropout=0.0, **changes))


def batch(b=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    frames = (torch.rand(b, T, P, generator=g) < 0.15).float()
    onsets = frames * (torch.rand(b, T, P, generator=g) < 0.5).float()
    return torch.stack([frames, onsets], dim=2), torch.arange(b) % 3  # (B, T, 2, P), (B,)


@pytest.mark.parametrize("decoder", ["seed", "autoregressive"])
def test_shapes(decoder):
    model = tiny(decoder=decoder)
    x, _ = batch()
    out = model(x)
    assert out["logits"].shape == (6, T, 2, P)
    assert out["mu"].shape == out["logvar"].shape == out["z"].shape == (6, 8)
    assert out["style_logits"] is None
    if decoder == "seed":
        assert model.decode(torch.zeros(3, 8)).shape == (3, T, 2, P)
    else:  # the autoregressive decoder decodes freely only through helpers.generate.decode
        with pytest.raises(ValueError, match="generate.decode"):
            model.decode(torch.zeros(3, 8))
    assert generate.decode(model, torch.zeros(3, 8)).shape == (3, T, 2, P)


def test_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(5, 7), torch.randn(5, 7)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(kl_per_dim(mu, logvar), torch.distributions.kl_divergence(q, p))


def test_loss_terms_are_summed_per_sample_and_averaged_over_batch():
    x, _ = batch(4)
    out = {"logits": torch.zeros(4, T, 2, P), "mu": torch.ones(4, 3), "logvar": torch.zeros(4, 3)}
    parts = vae_loss(out, x, None, LossConfig(beta=1.0, beta_warmup=0, free_bits=0.0), step=0)
    assert parts["recon"].item() == pytest.approx(T * 2 * P * np.log(2), rel=1e-5)  # log 2 per cell
    assert parts["kl"].item() == pytest.approx(3 * 0.5)  # 0.5 * mu^2 per dimension
    assert parts["loss"].item() == pytest.approx(parts["recon"].item() + 1.5, rel=1e-6)
    free = vae_loss(out, x, None, LossConfig(beta=1.0, beta_warmup=0, free_bits=2.0), step=0)
    assert free["loss"].item() == pytest.approx(parts["recon"].item() + 3 * 2.0, rel=1e-6)
    assert free["kl"].item() == pytest.approx(1.5)  # the reported KL is the true one
    # the onset weight weights the onsets in what is minimised; the reconstruction and the ELBO stay the true ones
    logits = torch.randn(4, T, 2, P, generator=torch.Generator().manual_seed(1))
    out["logits"] = logits
    plain = vae_loss(out, x, None, LossConfig(beta=1.0, beta_warmup=0, free_bits=0.0), step=0)
    onsets = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, :, 1], x[:, :, 1], reduction="sum") / 4
    weighted = vae_loss(out, x, None, LossConfig(beta=1.0, beta_warmup=0, free_bits=0.0, onset_weight=3.0), step=0)
    for part in ("recon", "kl", "elbo"):
        assert weighted[part].item() == pytest.approx(plain[part].item(), rel=1e-6)
    assert weighted["loss"].item() == pytest.approx(plain["loss"].item() + 2 * onsets.item(), rel=1e-5)


def test_beta_schedule():
    config = LossConfig(beta=0.5, beta_warmup=100)
    assert [beta_at(s, config) for s in (0, 50, 100, 1000)] == [0.0, 0.25, 0.5, 0.5]
    assert beta_at(0, LossConfig(beta=0.3, beta_warmup=0)) == 0.3


@pytest.mark.parametrize("decoder", ["seed", "autoregressive"])
def test_loss_falls_on_one_batch(decoder):
    torch.manual_seed(0)
    model = tiny(decoder=decoder)
    step = make_step(LossConfig(beta=0.1, beta_warmup=0, free_bits=0.0))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.zeros(6, T, 2, P)  # six different melodies, two steps a note
    for k in range(6):
        for t in range(0, T, 2):
            pitch = (k * 5 + t // 2 * (k % 3 + 1)) % P
            x[k, t:t + 2, 0, pitch] = x[k, t, 1, pitch] = 1.0
    y = torch.zeros(6, dtype=torch.long)
    losses = []
    for i in range(100):
        parts = step(model, (x, y), i)
        opt.zero_grad()
        parts["loss"].backward()
        opt.step()
        losses.append(parts["loss"].item())
    assert losses[-1] < 0.6 * losses[0]


def test_style_conditioning_changes_output_and_classifier_trains():
    torch.manual_seed(0)
    model = tiny(n_styles=3)
    x, style = batch()
    model.eval()
    z = torch.randn(1, 8).expand(3, 8)
    logits = model.decode(z, torch.tensor([0, 1, 2]))
    assert not torch.allclose(logits[0], logits[1]) and not torch.allclose(logits[1], logits[2])
    with pytest.raises(ValueError, match="style"):
        model(x)
    model.train()
    step = make_step(LossConfig(beta=0.0, beta_warmup=0, free_bits=0.0, style_weight=5.0))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for i in range(80):
        parts = step(model, (x, style), i)
        first = first if first is not None else parts["style"].item()
        opt.zero_grad()
        parts["loss"].backward()
        opt.step()
    assert parts["style"].item() < 0.5 * first and parts["style_acc"].item() == 1.0


def test_bad_settings_are_refused_with_the_field_named():
    for field, value in [("latent", 0), ("decoder", "transformer"), ("dropout", 1.5), ("n_styles", -1),
                         ("enc_hidden", 2.5)]:
        with pytest.raises(ValueError, match=field):
            GridVAE(replace(PRESETS["seed"], **{field: value}))
    with pytest.raises(ValueError, match="low <= high <= 127"):
        GridVAE(replace(PRESETS["seed"], format=GridFormat(low=100, high=187)))
    with pytest.raises(ValueError, match="segment_bars"):
        GridVAE(replace(PRESETS["seed"], format=GridFormat(segment_bars=0)))
    with pytest.raises(ValueError, match="beta"):
        make_step(LossConfig(beta=-1))
    for value in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="beta"):
            LossConfig(beta=value).validate()
    with pytest.raises(ValueError, match="free_bits"):
        LossConfig(free_bits="many").validate()
    with pytest.raises(ValueError, match="plan_weight"):
        LossConfig(plan_weight=-1.0).validate()


@pytest.mark.parametrize("decoder", ["seed", "autoregressive"])
def test_generation_functions(decoder):
    torch.manual_seed(0)
    model = tiny(decoder=decoder)
    x, _ = batch(2)
    for mode in generate.MODES:
        grids = generate.sample(model, 3, mode=mode, seed=1)
        assert grids.shape == (3, T, 2, P) and grids.dtype == bool
        frame, onset = grids[:, :, 0], grids[:, :, 1]
        assert not (onset & ~frame).any()  # no onset without its frame
        starts = frame & ~np.concatenate([np.zeros_like(frame[:, :1]), frame[:, :-1]], axis=1)
        assert not (starts & ~onset)[:, 1:].any()  # every note begins with an onset, but one held from before
    np.testing.assert_array_equal(generate.sample(model, 2, seed=5), generate.sample(model, 2, seed=5))
    assert generate.reconstruct(model, x.numpy()).shape == (2, T, 2, P)
    path = generate.interpolate(model, x[0].numpy(), x[1].numpy(), steps=4)
    assert path.shape == (4, T, 2, P)
    np.testing.assert_array_equal(path[0], generate.reconstruct(model, x[:1].numpy())[0])
    assert generate.concatenate(path).shape == (4 * T, 2, P)
    with pytest.raises(ValueError, match="mode"):
        generate.sample(model, 1, mode="argmax")
    with pytest.raises(ValueError, match="threshold"):
        generate.reconstruct(model, x.numpy(), threshold=1.5)


@pytest.mark.parametrize("decoder,chords,notes,voices", [("seed", "independent", "frames", False),
                                                          ("autoregressive", "independent", "frames", False),
                                                          ("autoregressive", "nade", "whole", True),
                                                          ("hierarchical", "nade", "frames", False)])
def test_decoding_at_several_thresholds_in_one_pass_is_decoding_at_each(decoder, chords, notes, voices):
    torch.manual_seed(0)
    model = tiny(decoder=decoder, chords=chords, notes=notes, chord_voices=voices,
                 note_ends="onsets" if notes == "whole" else "length", n_styles=3)
    with torch.no_grad():  # probabilities spread over (0, 1), so that each threshold decodes its own notes
        for weights in model.parameters():
            weights.normal_(0.0, 0.4)
    z, styles = torch.randn(5, 8), [0, 1, 2, 0, 1]
    thresholds = (0.1, 0.3, 0.5)
    together = generate.decode_thresholds(model, z, styles, thresholds)
    assert len(together) == 3
    for th, grids in zip(thresholds, together):
        np.testing.assert_array_equal(grids, generate.decode(model, z, styles, "threshold", th))
    assert not np.array_equal(together[0], together[2])  # the thresholds differ where it matters
    with pytest.raises(ValueError, match="every threshold"):
        generate.decode_thresholds(model, z, styles, (0.2, 1.0))
    with pytest.raises(ValueError, match="at least one"):
        generate.decode_thresholds(model, z, styles, ())


def test_the_floor_holds_back_unlikely_onsets_and_nothing_else():
    """An onset below the floor is never drawn; one above it, and every frame, are drawn as the model says."""
    n, pitches = 4000, 4
    probs = torch.tensor([0.02, 0.04, 0.5, 0.9])
    logits = torch.logit(probs).repeat(n, 2)  # (n, 2P): frames then onsets, the same probabilities
    drawn = {}
    for floor in (0.0, 0.03):
        choose = generate._Chooser("bernoulli", 0.5, pitches, torch.Generator().manual_seed(0), floor=floor)
        choose.previous = torch.ones(n, pitches, dtype=torch.bool)  # every note sounded: a chosen frame holds it
        cells = choose(logits).view(n, 2, pitches).float().mean(0)
        drawn[floor] = cells
        # the cell-by-cell chooser of the chord model holds back the same onsets
        cell = generate._Chooser("bernoulli", 0.5, pitches, torch.Generator().manual_seed(0), floor=floor)
        onsets = torch.stack([cell.cell(pitches + i, torch.logit(probs[i]).repeat(n)) for i in range(pitches)], 1)
        torch.testing.assert_close(onsets.float().mean(0), cells[1], atol=0.03, rtol=0)
        steps = generate._Chooser("bernoulli", 0.5, pitches, torch.Generator().manual_seed(0), floor=floor)
        torch.testing.assert_close(steps.step_onsets(torch.logit(probs).repeat(n, 1)).float().mean(0), cells[1],
                                   atol=0.03, rtol=0)
    torch.testing.assert_close(drawn[0.0][1], probs, atol=0.03, rtol=0)  # no floor: the model's probabilities
    assert drawn[0.03][1][0] == 0 and drawn[0.03][1][1] > 0.02  # below the floor never; above it as before
    torch.testing.assert_close(drawn[0.03][1][2:], drawn[0.0][1][2:])
    # frames (held notes) are left alone, even below the floor
    held = generate._Chooser("bernoulli", 0.5, pitches, torch.Generator().manual_seed(0), floor=0.03)
    held.previous = torch.ones(n, pitches, dtype=torch.bool)
    no_onsets = torch.cat([torch.logit(probs), torch.full((pitches,), -30.0)]).repeat(n, 1)
    torch.testing.assert_close(held(no_onsets).view(n, 2, pitches)[:, 0].float().mean(0), probs, atol=0.03, rtol=0)
    model = tiny()
    for bad in (-0.1, 1.0, "0.02", True, None):
        with pytest.raises(ValueError, match="floor must be a number in"):
            generate.sample(model, 2, floor=bad)
    with pytest.raises(ValueError, match="FLOOR must be"):
        generate.check_floor(2, "FLOOR")
    assert not generate.sample(model, 3, seed=0, floor=0.999)[:, :, 1].any()  # nothing is that likely


def test_the_onset_temperature_tempers_the_onsets_the_floor_lets_through_and_nothing_else():
    """Each onset's logit is divided by the temperature (above 1 a less likely note starts more often), after the
    floor has read the model's own probabilities; frames are drawn as the model says, and 1 changes nothing."""
    n, pitches = 4000, 4
    probs = torch.tensor([0.02, 0.1, 0.5, 0.9])
    logits = torch.logit(probs).repeat(n, 2)  # (n, 2P): frames then onsets, the same probabilities
    tempered = torch.sigmoid(torch.logit(probs) / 1.5)
    drawn = {}
    for temperature in (1.0, 1.5):
        choose = generate._Chooser("bernoulli", 0.5, pitches, torch.Generator().manual_seed(0), floor=0.05,
                                   onset_temperature=temperature)
        choose.previous = torch.ones(n, pitches, dtype=torch.bool)  # every note sounded: a chosen frame holds it
        drawn[temperature] = cells = choose(logits).view(n, 2, pitches).float().mean(0)
        # the chord model's choosers, cell by cell and a step's onsets at once, temper the same onsets
        cell = generate._Chooser("bernoulli", 0.5, pitches, torch.Generator().manual_seed(0), floor=0.05,
                                 onset_temperature=temperature)
        onsets = torch.stack([cell.cell(pitches + i, torch.logit(probs[i]).repeat(n)) for i in range(pitches)], 1)
        torch.testing.assert_close(onsets.float().mean(0), cells[1], atol=0.03, rtol=0)
        steps = generate._Chooser("bernoulli", 0.5, pitches, torch.Generator().manual_seed(0), floor=0.05,
                                  onset_temperature=temperature)
        torch.testing.assert_close(steps.step_onsets(torch.logit(probs).repeat(n, 1)).float().mean(0), cells[1],
                                   atol=0.03, rtol=0)
    torch.testing.assert_close(drawn[1.0][1][1:], probs[1:], atol=0.03, rtol=0)
    torch.testing.assert_close(drawn[1.5][1][1:], tempered[1:], atol=0.03, rtol=0)
    assert drawn[1.5][1][1] > 0.15 and drawn[1.5][1][3] < 0.85  # 0.1 and 0.9 drawn nearer to even
    assert drawn[1.0][1][0] == drawn[1.5][1][0] == 0  # below the floor never, however tempered (it would be 0.07)
    held = generate._Chooser("bernoulli", 0.5, pitches, torch.Generator().manual_seed(0), onset_temperature=1.5)
    held.previous = torch.ones(n, pitches, dtype=torch.bool)
    no_onsets = torch.cat([torch.logit(probs), torch.full((pitches,), -30.0)]).repeat(n, 1)
    frames = held(no_onsets).view(n, 2, pitches)  # frames (held notes) are drawn as the model says
    torch.testing.assert_close(frames[:, 0].float().mean(0), probs, atol=0.03, rtol=0)
    # in threshold mode it moves the onsets' threshold: 0.1 tempered by 3 is 0.33 and passes 0.3 (0.02: 0.21)
    for temperature, expected in ((1.0, [False, False, True, True]), (3.0, [False, True, True, True])):
        sure = generate._Chooser("threshold", 0.3, pitches, onset_temperature=temperature)
        assert sure(torch.logit(probs).repeat(1, 2)).view(2, pitches)[1].tolist() == expected
    model = tiny()
    z = torch.randn(16, model.config.latent, generator=torch.Generator().manual_seed(1))
    plain = generate.decode(model, z, mode="bernoulli", generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(plain, generate.decode(model, z, mode="bernoulli", onset_temperature=1.0,
                                                         generator=torch.Generator().manual_seed(0)))
    bolder = generate.decode(model, z, mode="bernoulli", onset_temperature=2.0,
                             generator=torch.Generator().manual_seed(0))
    assert bolder[:, :, 1].sum() > plain[:, :, 1].sum()  # an untrained model's onsets are unlikely: more start
    for bad in (0, -1.0, float("nan"), "1.3", True):
        with pytest.raises(ValueError, match="onset_temperature must be a number > 0"):
            generate.sample(model, 2, onset_temperature=bad)


def test_counts_and_temperatures_are_checked_alike_everywhere():
    model = tiny()
    for n in (0, 2.5, True, "3"):
        with pytest.raises(ValueError, match="n must be an integer >= 1"):
            generate.sample(model, n)
    for t in (0, -1.0, float("nan"), float("inf"), "1"):
        with pytest.raises(ValueError, match="temperature must be a number > 0"):
            generate.sample(model, 2, temperature=t)
    grid = np.zeros((model.config.seq_len, 2, model.config.n_pitches), bool)
    with pytest.raises(ValueError, match="steps must be an integer >= 2"):
        generate.interpolate(model, grid, grid, steps=1)
    # numpy's integers and floats are numbers too (a count read from an array)
    assert generate.sample(model, np.int64(2), temperature=np.float32(0.5), seed=0).shape[0] == 2
    assert generate.check_count(np.int32(3), "N") == 3 and type(generate.check_count(np.int32(3), "N")) is int


def test_slerp_ends_and_norm():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    torch.testing.assert_close(generate.slerp(a, b, 0.0), a)
    torch.testing.assert_close(generate.slerp(a, b, 1.0), b)
    mid = generate.slerp(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), 0.5)
    assert mid.norm().item() == pytest.approx(1.0)


def test_active_dimensions():
    mu = torch.zeros(100, 4)
    mu[:, 0] = torch.linspace(-1, 1, 100)
    mu[:, 2] = torch.linspace(-3, 3, 100)
    assert active_dimensions(mu) == 2


def test_presets_by_name():
    from helpers.models import preset

    assert preset("seed", latent=7).latent == 7 and preset("autoregressive").decoder == "autoregressive"
    with pytest.raises(ValueError, match="PRESET must be one of"):
        preset("transformer")


def test_the_one_free_running_decoder_steps_the_seed_decoder_as_one_pass_would():
    torch.manual_seed(0)
    model = tiny(decoder="seed").eval()
    torch.nn.init.zeros_(model.to_logits.bias)  # probabilities about 0.5: some notes chosen, some not
    z = torch.randn(3, 8)
    with torch.no_grad():
        logits = model.decode(z).view(3, T, -1)  # all steps at once
    choose = generate._Chooser("threshold", 0.5, P)
    expected = torch.stack([choose(logits[:, t]) for t in range(T)], 1).view(3, T, 2, P).numpy()
    assert 0 < expected.mean() < 1
    np.testing.assert_array_equal(generate.decode(model, z, mode="threshold", threshold=0.5), expected)


# ---------------------------------------------------------------- decoders, chords, style code

DESIGNS = ([(d, c, "frames") for d in ("seed", "autoregressive", "hierarchical") for c in ("independent", "nade")]
           + [(d, c, "whole") for d in ("seed", "autoregressive", "hierarchical") for c in ("independent", "nade")])


@pytest.mark.parametrize("decoder,chords,notes", DESIGNS)
def test_every_decoder_design_has_its_shapes_and_round_trips(decoder, chords, notes, tmp_path):
    torch.manual_seed(0)
    model = tiny(decoder=decoder, chords=chords, notes=notes, n_styles=3, style_latent=2, bar_plan=notes == "whole")
    x, style = batch()
    out = model(x, style)
    assert out["logits"].shape == (6, T, 2, P) and out["style_logits"].shape == (6, 3)
    grids = generate.decode(model, torch.randn(3, 8), style=[0, 1, 2])
    assert grids.shape == (3, T, 2, P) and grids.dtype == bool
    assert not (grids[:, :, 1] & ~grids[:, :, 0]).any()  # every onset sounds
    torch.save({"config": model.config.to_dict(), "state": model.state_dict()}, tmp_path / "m.pt")
    saved = torch.load(tmp_path / "m.pt", weights_only=True)
    again = GridVAE(VAEConfig.from_dict(saved["config"]))
    again.load_state_dict(saved["state"])
    model.eval(), again.eval()
    torch.testing.assert_close(again(x, style, sample=False)["logits"], model(x, style, sample=False)["logits"])


@pytest.mark.parametrize("voices", [False, True])
def test_chord_model_is_a_distribution_over_whole_chords(voices):
    """Summed over every possible step (2^(2P) cells, P = 3), the chord model's probabilities make 1."""
    from itertools import product

    from helpers.models import ChordNADE

    torch.manual_seed(0)
    nade = ChordNADE(state_size=5, n_pitches=3, hidden=4, voices=voices)
    with torch.no_grad():
        nade.V.normal_(0, 2.0), nade.W.normal_(0, 2.0)  # strong dependence between the cells
        if voices:
            nade.voices.weight.normal_(0, 2.0), nade.voices.bias.normal_(0, 2.0)
    state, bias = torch.randn(2, 5), torch.randn(2, 6)
    cells = torch.tensor(list(product([0.0, 1.0], repeat=6)))  # (64, 6): every step
    logits = nade.logits(state[:, None].expand(2, 64, 5), bias[:, None].expand(2, 64, 6), cells[None].expand(2, 64, 6))
    log_p = -torch.nn.functional.binary_cross_entropy_with_logits(logits, cells[None].expand(2, 64, 6),
                                                                  reduction="none").sum(-1)
    torch.testing.assert_close(log_p.exp().sum(1), torch.ones(2))
    # and it is not the independent model: the cells depend on one another
    independent = -torch.nn.functional.binary_cross_entropy_with_logits(bias[:, None].expand(2, 64, 6),
                                                                         cells[None].expand(2, 64, 6),
                                                                         reduction="none").sum(-1)
    assert (log_p - independent).abs().max() > 0.1


@pytest.mark.parametrize("onsets_only,voices,before", [(False, False, False), (False, True, False),
                                                       (True, True, False), (True, True, True)])
def test_chord_model_samples_what_its_logits_say(onsets_only, voices, before):
    """Cell-by-cell sampling and the all-at-once logits agree on the chosen cells."""
    from helpers.models import ChordNADE

    torch.manual_seed(1)
    pitches = 16  # more than an octave: voices far below are counted, not heard one by one
    nade = ChordNADE(state_size=5, n_pitches=pitches, hidden=6, onsets_only=onsets_only, voices=voices,
                     voices_before=before)
    if voices:
        with torch.no_grad():
            nade.voices.weight.normal_(0, 1.0), nade.voices.bias.normal_(0, 1.0)
    state, bias = torch.randn(32, 5), torch.randn(32, 2 * pitches)
    previous = torch.rand(32, pitches) < 0.3 if onsets_only else None
    cells, logits = nade.sample(state, bias, lambda cell, logit: (logit > 0).float(), previous)
    assert 0 < cells.sum() < cells.numel()
    torch.testing.assert_close(nade.logits(state, bias, cells, previous), logits)


def test_chord_voices_count_up_to_a_ceiling():
    """The voices' count has a weight per count, and every count from VOICE_COUNTS on shares the last: an onset
    far above a crowded step hears the same as one above VOICE_COUNTS onsets, so a weight that favours one more
    voice cannot grow with the crowd."""
    from helpers.models import VOICE_COUNTS, ChordNADE

    torch.manual_seed(0)
    pitches = 40
    nade = ChordNADE(state_size=5, n_pitches=pitches, hidden=6, onsets_only=True, voices=True)
    with torch.no_grad():
        nade.voices.weight.normal_(0, 1.0), nade.voices.bias.normal_(0, 1.0)
    state, bias = torch.randn(1, 5).expand(3, -1), torch.zeros(3, 2 * pitches)
    cells = torch.zeros(3, 2, pitches)
    low = pitches - 1 - VOICE_REACH - 1  # every counted onset lies beyond the octave below the top pitch
    cells[0, 1, low - VOICE_COUNTS + 1:low + 1] = 1  # VOICE_COUNTS onsets below
    cells[1, 1, :low + 1] = 1                        # many more
    cells[2, 1, low - VOICE_COUNTS + 2:low + 1] = 1  # one fewer
    top = pitches + pitches - 1  # the top pitch's onset cell
    with torch.no_grad():
        nade.V.zero_()  # the NADE's own sum hears every cell: leave the voices alone
        logits = nade.logits(state, bias, cells.view(3, -1), torch.zeros(3, pitches))[:, top]
    assert logits[0].item() == pytest.approx(logits[1].item())
    assert abs(logits[0].item() - logits[2].item()) > 1e-3


def test_chord_voices_before_read_the_count_against_the_notes_held():
    """With ``voices_before``, an onset's count weight is chosen by the notes started below it and by those
    sounding the step before, both counted up to VOICE_COUNTS; a model without it is refused the option."""
    from helpers.models import VOICE_COUNTS, ChordNADE

    torch.manual_seed(0)
    pitches = 30
    nade = ChordNADE(state_size=5, n_pitches=pitches, hidden=6, onsets_only=True, voices=True, voices_before=True)
    with torch.no_grad():
        nade.voices.weight.normal_(0, 1.0), nade.voices.bias.normal_(0, 1.0)
        nade.V.zero_()  # the NADE's own sum hears every cell: leave the voices alone
    state, bias = torch.randn(1, 5).expand(4, -1), torch.zeros(4, 2 * pitches)
    cells = torch.zeros(4, 2, pitches)
    cells[:, 1, :2] = 1  # two onsets, far below the top pitch
    held = torch.zeros(4, pitches)
    for row, n in enumerate((0, 2, VOICE_COUNTS, 12)):
        held[row, pitches - n:] = 1  # n notes sounded the step before (none of them below the top pitch's octave)
    with torch.no_grad():
        top = nade.logits(state, bias, cells.view(4, -1), held)[:, 2 * pitches - 1]  # the top pitch's onset
        u = nade.voices(state[:1])[0]
    counts = torch.nn.functional.pad(u[VOICE_REACH:], (1, 0))
    for row, n in enumerate((0, 2, VOICE_COUNTS, VOICE_COUNTS)):  # 12 held count as VOICE_COUNTS
        assert top[row].item() == pytest.approx(counts[min(n, VOICE_COUNTS) * (VOICE_COUNTS + 1) + 2].item(), abs=1e-5)
    assert len({round(x, 4) for x in top[:3].tolist()}) == 3
    with pytest.raises(ValueError, match="voices_before"):
        tiny(notes="whole", chords="nade", voices_before=True)  # no voices to count
    with pytest.raises(ValueError, match="voices_before"):
        tiny(chords="nade", chord_voices=True, voices_before=True)  # frames: nothing held to count


def test_chord_voices_can_make_a_step_one_voice():
    """Voices whose weights forbid a second onset give steps of at most one onset, whatever the NADE says."""
    torch.manual_seed(0)
    model = GridVAE(replace(PRESETS["smoke"], format=FMT, dropout=0.0, notes="whole", chords="nade",
                            chord_voices=True)).eval()
    with torch.no_grad():
        torch.nn.init.zeros_(model.to_logits.weight), model.to_logits.bias.fill_(0.0)  # every onset: even odds
        model.chord_model.voices.bias[VOICE_REACH:] = -100.0  # any onset chosen below rules out the next ones
    grids = generate.decode(model, torch.randn(16, 8), mode="bernoulli", generator=torch.Generator().manual_seed(0))
    per_step = grids[:, :, 1].sum(-1)
    assert per_step.max() == 1 and (per_step == 1).mean() > 0.9
    with pytest.raises(ValueError, match="chord_voices"):
        tiny(chord_voices=True)  # independent cells: no chord model to give voices to


def whole_notes(decoder, fmt=FMT, chords="independent", positions=False, note_ends="length", bar_plan=False):
    """A tiny whole-note model with strong, random length distributions (and chord model, and note ends).
    ``chords="voices"``: the chord model with voices; ``"voices-before"``: their count read with the notes held."""
    torch.manual_seed(0)
    voices = chords.startswith("voices")
    model = GridVAE(replace(PRESETS["smoke"], format=fmt, dropout=0.0, decoder=decoder, notes="whole",
                            chords="nade" if voices else chords, chord_voices=voices,
                            voices_before=chords == "voices-before",
                            positions=positions, note_ends=note_ends, bar_plan=bar_plan)).eval()
    with torch.no_grad():
        model.note_lengths.codes.normal_(), model.note_lengths.to_keys.weight.normal_()
        torch.nn.init.zeros_(model.to_logits.bias)
        if model.note_ends is not None:  # onsets that strongly end (or hold) the notes they meet
            model.note_ends.weights.weight.normal_(0, 1.0), model.note_ends.weights.bias.normal_(0, 2.0)
        if model.chord_model is not None:  # strong dependence between a step's cells, and on the step before
            for weights in (model.chord_model.V, model.chord_model.W, model.chord_model.previous.weight):
                weights.normal_(0, 2.0)
            if model.chord_model.voices is not None:
                model.chord_model.voices.weight.normal_(0, 1.0), model.chord_model.voices.bias.normal_(0, 2.0)
    return model


@pytest.mark.parametrize("decoder,chords,pitches,note_ends", [
    ("seed", "independent", 1, "length"), ("autoregressive", "independent", 1, "length"),
    ("seed", "nade", 2, "length"), ("autoregressive", "nade", 2, "length"),
    ("seed", "independent", 2, "onsets"), ("seed", "nade", 2, "onsets"), ("seed", "voices", 2, "onsets"),
    ("seed", "independent", 2, "joint"), ("autoregressive", "voices", 2, "joint"),
    ("seed", "voices-before", 2, "length"), ("autoregressive", "voices-before", 2, "onsets")])
def test_whole_notes_are_a_distribution_over_grids(decoder, chords, pitches, note_ends):
    """Summed over every grid of 4 steps (4^(4P) of them), the probabilities make 1."""
    from itertools import product

    model = whole_notes(decoder, GridFormat(1, 60, 59 + pitches, segment_bars=1), chords,
                        note_ends=note_ends)  # T = 4
    cells = 8 * pitches
    grids = torch.tensor(list(product([0.0, 1.0], repeat=cells))).view(-1, 4, 2, pitches)
    z = torch.randn(1, 8).expand(len(grids), -1)  # one code for every comparison below
    with torch.no_grad():
        logits = model.decode(z, target=grids)
    log_p = -torch.nn.functional.binary_cross_entropy_with_logits(logits, grids, reduction="none").flatten(1).sum(1)
    assert log_p.exp().sum().item() == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="target"):
        model.decode(torch.zeros(1, 8))
    if chords != "independent":  # and the pitches of a step depend on one another and on the step before
        model.chord_model.V.data.zero_()
        with torch.no_grad():
            independent = model.decode(z, target=grids)
        assert (independent - logits).abs().max() > 0.1
    if note_ends == "joint":  # and a note's end depends on whether the notes below it ended
        weights, saved = model.note_ends.weights, copy.deepcopy(model.note_ends.weights.state_dict())
        with torch.no_grad():
            weights.weight[2 * model.note_ends.reach + 2:] = 0
            weights.bias[2 * model.note_ends.reach + 2:] = 0
            onsets_alone = model.decode(z, target=grids)
        weights.load_state_dict(saved)
        assert (onsets_alone - logits).abs().max() > 0.1
    if note_ends != "length":  # and a note's end depends on the onsets of its step
        torch.nn.init.zeros_(model.note_ends.weights.weight), torch.nn.init.zeros_(model.note_ends.weights.bias)
        with torch.no_grad():
            by_length = model.decode(z, target=grids)
        assert (by_length - logits).abs().max() > 0.1


@pytest.mark.parametrize("decoder,chords,positions,note_ends", [
    ("seed", "independent", False, "length"), ("autoregressive", "independent", False, "length"),
    ("seed", "nade", False, "length"), ("autoregressive", "nade", False, "length"),
    ("seed", "independent", True, "length"), ("hierarchical", "nade", True, "length"),
    ("seed", "independent", False, "onsets"), ("seed", "nade", False, "onsets"),
    ("autoregressive", "independent", True, "onsets"), ("autoregressive", "voices", False, "onsets"),
    ("seed", "independent", False, "joint"), ("autoregressive", "voices", False, "joint"),
    ("autoregressive", "voices", "plan", "onsets"), ("hierarchical", "independent", "plan", "length"),
    ("seed", "voices-before", False, "length"), ("autoregressive", "voices-before", False, "joint")])
def test_whole_notes_decoded_freely_are_what_the_teacher_forced_model_says(decoder, chords, positions, note_ends):
    """The step-by-step decoder's logits are the all-at-once logits of the grid it drew (where a cell is not
    decided by the notes before it), and its notes last as long as their length distribution says.
    (``positions="plan"``: a bar plan instead of positions.)"""
    model = whole_notes(decoder, chords=chords, positions=positions is True, note_ends=note_ends,
                        bar_plan=positions == "plan")
    z = torch.randn(8, 8)
    choose = generate._Chooser("bernoulli", 0.5, P, torch.Generator().manual_seed(0))
    with torch.no_grad():
        free = model.decode_steps(z, None, T, choose)
        grids = torch.stack(choose.steps, 1).view(8, T, 2, P).float()
        forced = model.decode(z, target=grids)
    decided = grids[:, :, 1].bool()  # an onset's frame: certain when forced, unused when free
    assert 0.02 < grids[:, :, 0].mean() < 0.98
    torch.testing.assert_close(forced[:, :, 0][~decided], free[:, :, 0][~decided])
    torch.testing.assert_close(forced[:, :, 1], free[:, :, 1])
    lengths = np.concatenate([notes[:, 2] - notes[:, 1] for notes in map(grid_to_notes, grids.numpy(), [FMT] * 8)])
    assert lengths.max() > 1  # held notes, not one-step blips


def test_note_ends_let_an_onset_end_the_notes_it_meets():
    """With weights that end a note wherever another starts, and lengths that never end it, decoded notes meet
    end to end: a line, never two notes at once unless they start together."""
    model = whole_notes("seed", note_ends="onsets")
    with torch.no_grad():
        model.note_lengths.bias.fill_(0.0), model.note_lengths.bias[:, -1].fill_(50.0)  # every note: the longest
        torch.nn.init.zeros_(model.note_ends.weights.weight), torch.nn.init.zeros_(model.note_ends.weights.bias)
        model.note_ends.weights.bias[-1] = -100.0  # any onset at the step ends every note sounding into it
        torch.nn.init.zeros_(model.to_logits.weight)
        model.to_logits.bias.view(2, P)[0].fill_(-50.0)  # no note without an onset
        model.to_logits.bias.view(2, P)[1].fill_(-2.5)  # onsets now and then
    grids = generate.decode(model, torch.randn(16, 8), mode="bernoulli", generator=torch.Generator().manual_seed(0))
    frame, onset = grids[:, :, 0], grids[:, :, 1]
    starting = onset.any(-1, keepdims=True)
    assert starting[:, 1:].sum() > 20
    assert not (frame & ~onset & starting).any()  # where anything starts, nothing else goes on
    held = frame[:, :-1] & ~starting[:, 1:]  # where nothing starts, every note goes on
    assert (frame[:, 1:][held]).all()
    with pytest.raises(ValueError, match="note_ends"):
        tiny(note_ends="onsets")  # frames: no note to end


def test_joint_note_ends_let_a_chord_keep_its_voices():
    """With joint weights that end one going note per onset (each note hears how many below it ended), and
    lengths that never end a note, a step keeps as many notes as went on into it or started, whichever is more:
    the lowest going notes end, the rest go on."""
    model = whole_notes("seed", note_ends="joint")
    r = model.note_ends.reach
    with torch.no_grad():
        model.note_lengths.bias.fill_(0.0), model.note_lengths.bias[:, -1].fill_(50.0)  # every note: the longest
        torch.nn.init.zeros_(model.note_ends.weights.weight), torch.nn.init.zeros_(model.note_ends.weights.bias)
        model.note_ends.weights.bias[2 * r + 1] = -100.0  # each onset of the step: one more note should end
        model.note_ends.weights.bias[3 * r + 2] = 100.0  # each going note below that ended: one fewer
        torch.nn.init.zeros_(model.to_logits.weight)
        model.to_logits.bias.view(2, P)[0].fill_(-50.0)  # no note without an onset
        model.to_logits.bias.view(2, P)[1].fill_(-2.0)  # onsets now and then
    grids = generate.decode(model, torch.randn(16, 8), mode="bernoulli", generator=torch.Generator().manual_seed(0))
    frame, onset = grids[:, :, 0].astype(bool), grids[:, :, 1].astype(bool)
    going = frame[:, :-1] & ~onset[:, 1:]  # notes sounding into a step that it does not strike again
    starts, sounding = onset[:, 1:].sum(-1), frame[:, 1:].sum(-1)
    assert ((going.sum(-1) > 1) & (starts > 0)).sum() > 20  # chords met by new notes
    np.testing.assert_array_equal(sounding, np.maximum(going.sum(-1), starts))
    went_on = going & frame[:, 1:]  # the highest go on: no note that ended lies above one that went on
    ended_above = np.flip(np.cumsum(np.flip(going & ~frame[:, 1:], -1), -1), -1)
    assert not (went_on & (ended_above > 0)).any()


def test_positions_tell_the_decoder_its_step_in_the_bar_and_its_bar(tmp_path):
    fmt = GridFormat(low=60, high=60 + P - 1, segment_bars=3)  # 3 bars of 16 steps
    model = GridVAE(replace(PRESETS["smoke"], format=fmt, dropout=0.0, positions=True)).eval()
    heard = model._positions(48, "cpu", torch.float32)[0]  # (T, 16 + 3)
    assert heard.shape == (48, 19) and (heard.sum(1) == 2).all()
    steps = torch.arange(48)
    assert (heard[:, :16].argmax(1) == steps % 16).all() and (heard[:, 16:].argmax(1) == steps // 16).all()
    plain = GridVAE(replace(model.config, positions=False))
    assert model.decoder.input_size == plain.decoder.input_size + 19
    z = torch.randn(2, 8)
    with torch.no_grad():
        before = model.decode(z)
        model.decoder.weight_ih_l0[:, -19:] = 0.0  # deaf to its place: another decoder
        assert (model.decode(z) - before).abs().max() > 0
    torch.save({"config": model.config.to_dict()}, tmp_path / "m.pt")
    assert VAEConfig.from_dict(torch.load(tmp_path / "m.pt", weights_only=True)["config"]).positions is True
    older = plain.config.to_dict()
    del older["positions"]  # a checkpoint written before the field existed
    assert VAEConfig.from_dict(older).positions is False


def test_bar_plan_is_trained_on_each_bars_pitches_and_heard_in_that_bar_alone(tmp_path):
    """The plan's target is which pitches sound in each bar; the decoder hears bar k's plan in bar k only; the
    loss has a plan term only for a model with a plan; an older checkpoint's config loads without one."""
    from helpers.losses import bar_pitches

    fmt = GridFormat(low=60, high=60 + P - 1, segment_bars=3)  # 3 bars of 16 steps
    grid = torch.zeros(1, 48, 2, P)
    grid[0, 14:18, 0, 2] = 1.0  # a note across the first bar line
    grid[0, 40, 0, 5] = 1.0     # a note in the third bar
    expected = torch.zeros(1, 3, P)
    expected[0, 0, 2] = expected[0, 1, 2] = expected[0, 2, 5] = 1.0
    assert torch.equal(bar_pitches(grid, 3), expected)
    with pytest.raises(ValueError, match="48 steps do not divide into 5 bars"):
        bar_pitches(grid, 5)

    torch.manual_seed(0)
    model = GridVAE(replace(PRESETS["smoke"], format=fmt, dropout=0.0, bar_plan=True)).eval()
    plain = GridVAE(replace(model.config, bar_plan=False))
    assert model.decoder.input_size == plain.decoder.input_size + P and plain.bar_plan(torch.zeros(1, 8)) is None
    z = torch.randn(2, 8)
    assert model.bar_plan(z).shape == (2, 3, P)
    with torch.no_grad():
        base = model.decode(z)
        model.plan.bias.view(3, P)[1] += 3.0  # the second bar's plan only
        changed = model.decode(z)
    diff = (changed - base).abs().amax(dim=(0, 2, 3))  # per step (the seed decoder: nothing after it hears it)
    assert diff[:16].max() == 0 and diff[16:32].min() > 0

    with torch.no_grad():  # a plan of one pitch in the first bar: one hit of the grid's three bar pitches
        model.plan.weight.zero_(), model.plan.bias.fill_(-5.0)
        model.plan.bias.view(3, P)[0, 2] = 5.0
    from helpers.evaluation import plan_f1

    assert plan_f1(model, grid.numpy(), torch.zeros(1, 8)) == pytest.approx(2 / 4)

    x, _ = batch(2)
    x = x.repeat(1, 3, 1, 1)  # 48 steps
    config = LossConfig(plan_weight=2.0)
    out = model(x, sample=False)
    with_plan = vae_loss(out, x, None, config, 0)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(out["plan_logits"], bar_pitches(x, 3),
                                                                    reduction="sum") / 2
    assert abs(with_plan["plan"].item() - expected.item()) < 1e-3
    assert abs(with_plan["loss"].item() - with_plan["recon"].item() - 2.0 * with_plan["plan"].item()) < 1e-3
    assert "plan" not in vae_loss(plain(x), x, None, config, 0)
    older = plain.config.to_dict()
    del older["bar_plan"]  # a checkpoint written before the field existed
    assert VAEConfig.from_dict(older).bar_plan is False


def test_hierarchical_decoder_restarts_at_every_bar(monkeypatch):
    """Changing one bar's embedding changes that bar's teacher-forced logits and no other bar's."""
    torch.manual_seed(0)
    fmt = GridFormat(low=60, high=60 + P - 1, segment_bars=3)  # 3 bars of 16 steps
    model = GridVAE(replace(PRESETS["smoke"], format=fmt, dropout=0.0, decoder="hierarchical")).eval()
    x = (torch.rand(2, 48, 2, P) < 0.2).float()
    z = torch.randn(2, 8)
    # PyTorch's own LSTM kernel: oneDNN's, on one CPU thread, rounds a bar's steps by the other bars' values
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)
    base = model.decode(z, target=x)
    with torch.no_grad():
        original = model.bar_embedding.forward

        def shifted(out):
            embedding = original(out)
            embedding[:, 1] += 1.0  # the second bar only
            return embedding

        model.bar_embedding.forward = shifted
        changed = model.decode(z, target=x)
    diff = (changed - base).abs().amax(dim=(0, 2, 3))  # per step
    assert diff[:16].max() == 0 and diff[32:].max() == 0 and diff[16:32].min() > 0


def test_scheduled_sampling_leaves_evaluation_untouched():
    torch.manual_seed(0)
    plain = tiny(decoder="autoregressive")
    mixing = tiny(decoder="autoregressive", scheduled_sampling=1.0)
    mixing.load_state_dict(plain.state_dict())
    x, _ = batch()
    plain.eval(), mixing.eval()
    torch.testing.assert_close(mixing(x, sample=False)["logits"], plain(x, sample=False)["logits"])
    mixing.train()
    torch.manual_seed(1)
    trained = mixing(x, sample=False)["logits"]
    assert not torch.allclose(trained, plain(x, sample=False)["logits"])  # training hears its own draws
    with pytest.raises(ValueError, match="scheduled_sampling"):
        tiny(decoder="seed", scheduled_sampling=0.5)


def test_style_code_transfer_moves_the_classifier_to_the_target():
    """A style model with a 2-dimensional style code, briefly trained: swapping in the target's code
    makes the latent classifier name the target, and the adversary reads the rest of z."""
    torch.manual_seed(0)
    model = tiny(decoder="autoregressive", n_styles=3, style_latent=2, style_adversary=0.5)
    style = torch.arange(48) % 3
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(48, T, 2, P)
    for i, s in enumerate(style.tolist()):  # each style its own register, with random notes
        pitches = torch.randint(4 * s, 4 * s + 4, (T,), generator=g)
        x[i, torch.arange(T), 0, pitches] = x[i, torch.arange(T), 1, pitches] = 1.0
    step = make_step(LossConfig(beta=0.1, beta_warmup=0, free_bits=0.0))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for k in range(60):
        parts = step(model, (x, style), k)
        opt.zero_grad(), parts["loss"].backward(), opt.step()
    assert "adversary_acc" in parts and parts["style_acc"] == 1.0
    model.eval()
    vectors = generate.style_vectors(model, x.numpy().astype(bool), style.numpy())
    source = x[style == 0].numpy().astype(bool)
    mu = generate.encode(model, source, 0)
    mu[:, :2] = vectors[2, :2]
    assert (model.classify(mu).argmax(1) == 2).all()
    assert generate.transfer(model, source, 0, 2, vectors=vectors).shape == source.shape
    with pytest.raises(ValueError, match="style code"):
        generate.transfer(tiny(n_styles=3), source, 0, 2, vectors=vectors, how="swap")
    path = generate.style_path(model, torch.randn(2, 8), 0, 2, steps=3, vectors=vectors)
    assert path.shape == (2, 3, T, 2, P)


@pytest.mark.parametrize("field,value", [("chords", "joint"), ("decoder", "conductor"), ("scheduled_sampling", 1.5),
                                         ("style_latent", 8), ("style_latent", -1), ("nade_hidden", 0),
                                         ("notes", "tied"), ("length_rank", 0), ("positions", "yes"),
                                         ("bidirectional", 1), ("note_ends", "onset"),
                                         ("chord_voices", 1), ("bar_plan", "yes")])
def test_new_settings_are_checked(field, value):
    with pytest.raises(ValueError, match=field):
        tiny(**{field: value})
    with pytest.raises(ValueError, match="style_latent > 0"):
        tiny(n_styles=3, style_adversary=1.0)


def test_the_first_step_holds_notes_from_before_the_segment_and_no_later_step_starts_one_without_an_onset():
    """A frame chosen without its onset sounds at the first step (a note tied over the segment's first bar
    line, as real segments begin), and goes on while chosen; later, a frame alone never starts a note."""
    choose = generate._Chooser("threshold", 0.5, 3)
    logits = torch.tensor([[9.0, -9.0, -9.0, -9.0, -9.0, -9.0]])  # frames of pitches 0-2, then their onsets
    first = choose(logits).view(1, 2, 3)
    assert first[0, 0].tolist() == [True, False, False] and not first[0, 1].any()  # held from before
    both = torch.tensor([[9.0, 9.0, -9.0, -9.0, -9.0, -9.0]])
    second = choose(both).view(1, 2, 3)
    assert second[0, 0].tolist() == [True, False, False]  # pitch 0 goes on; pitch 1's frame alone starts nothing
    cells = generate._Chooser("threshold", 0.5, 3)  # the chord model's way, cell by cell: the same rule
    assert cells.cell(3, torch.tensor([-9.0])).item() is False  # pitch 0's onset, not chosen
    assert cells.cell(0, torch.tensor([9.0])).item() is True    # its frame alone: held from before
    cells.commit(torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]]))
    cells.cell(4, torch.tensor([-9.0]))                           # pitch 1: no onset
    assert cells.cell(1, torch.tensor([9.0])).item() is False    # a frame alone, after the first step
