"""Style: mixing style embeddings, transfer, the independent judge, the latent map."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers import generate, metrics, render
from helpers.models import PRESETS, GridVAE
from helpers.pianoroll import GridFormat

P, T = 12, 16
FMT = GridFormat(low=60, high=60 + P - 1, segment_bars=1)  # T = 16: one bar of 4/4


def styled_model():
    torch.manual_seed(0)
    return GridVAE(replace(PRESETS["smoke"], format=FMT, dropout=0.0, n_styles=3))


def test_mixed_style_weights_match_indices_at_the_ends():
    model = styled_model().eval()
    z = torch.randn(2, 8)
    one_hot = torch.tensor([[1.0, 0, 0], [0, 0, 1.0]])
    torch.testing.assert_close(model.decode(z, one_hot), model.decode(z, torch.tensor([0, 2])))
    half = model.decode(z[:1], torch.tensor([[0.5, 0, 0.5]]))
    assert not torch.allclose(half, model.decode(z[:1], torch.tensor([0])))


@pytest.mark.parametrize("decoder", ["seed", "autoregressive"])
def test_style_path_and_transfer(decoder):
    model = GridVAE(replace(styled_model().config, decoder=decoder))
    path = generate.style_path(model, torch.randn(8), 0, 2, steps=4, mode="bernoulli", seed=3)
    assert path.shape == (4, T, 2, P) and path.dtype == bool
    z = torch.randn(8)
    np.testing.assert_array_equal(generate.style_path(model, z, 0, 2, 4, "bernoulli", seed=3),
                                  generate.style_path(model, z, 0, 2, 4, "bernoulli", seed=3))
    grids = (np.random.default_rng(0).random((3, T, 2, P)) < 0.1)
    moved = generate.transfer(model, grids, 0, 1, threshold=0.05)
    assert moved.shape == (3, T, 2, P)
    with pytest.raises(ValueError, match="steps"):
        generate.style_path(model, torch.randn(8), 0, 1, steps=1)


def test_the_two_styles_to_move_between_are_chosen_by_name_or_are_the_first_and_the_last():
    names = ["bach", "folk", "palestrina"]
    assert generate.style_pair(names) == (0, 2)
    assert generate.style_pair(names, "folk", "") == (1, 2) and generate.style_pair(names, " folk", "bach ") == (1, 0)
    assert generate.style_pair(names, "palestrina", "folk") == (2, 1)
    with pytest.raises(ValueError, match=r"STYLE_TO 'jazz' is not one of the styles \['bach'"):
        generate.style_pair(names, "bach", "jazz", ("STYLE_FROM", "STYLE_TO"))
    with pytest.raises(ValueError, match="STYLE_FROM and STYLE_TO must be two styles, both are 'folk'"):
        generate.style_pair(names, "folk", "folk", ("STYLE_FROM", "STYLE_TO"))
    with pytest.raises(ValueError, match="STYLE_FROM and STYLE_TO must be two styles, both are 'bach'"):
        generate.style_pair(["bach", "folk"], "", "bach", ("STYLE_FROM", "STYLE_TO"))
    with pytest.raises(ValueError, match="needs two styles"):
        generate.style_pair(["bach"])


def test_independent_classifier_learns_and_scores():
    torch.manual_seed(0)
    # Three "styles": low, middle and high notes.
    x = torch.zeros(60, T, 2, P)
    y = torch.arange(60) % 3
    for i in range(60):
        pitch = 4 * int(y[i]) + i % 4
        x[i, ::2, 0, pitch] = x[i, ::2, 1, pitch] = 1.0
    judge = metrics.StyleClassifier(metrics.ClassifierConfig(n_pitches=P, n_styles=3, channels=16))
    opt = torch.optim.Adam(judge.parameters(), lr=1e-2)
    first = None
    for step in range(40):
        parts = metrics.classifier_step(judge, (x, y), step)
        first = first if first is not None else parts["loss"].item()
        opt.zero_grad()
        parts["loss"].backward()
        opt.step()
    assert parts["loss"].item() < 0.2 * first
    probs = metrics.predict(judge, x.numpy())
    assert probs.shape == (60, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert metrics.per_style_accuracy(probs, y.numpy(), ["low", "mid", "high"]) == \
        {"low": 1.0, "mid": 1.0, "high": 1.0, "all": 1.0}
    with pytest.raises(ValueError, match="n_styles"):
        metrics.StyleClassifier(metrics.ClassifierConfig(n_styles=0))


def test_per_style_accuracy_literal():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert metrics.per_style_accuracy(probs, [0, 1, 1, 1], ["a", "b"]) == {"a": 1.0, "b": 2 / 3, "all": 0.75}


def test_latent_map():
    mu = np.random.default_rng(0).normal(size=(30, 5))
    fig = render.plot_latent_map(mu, np.arange(30) % 3, ["a", "b", "c"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["a", "b", "c"]


def test_style_path_decodes_many_codes_in_one_batch():
    model = styled_model()
    z = torch.randn(3, 8)
    batch = generate.style_path(model, z, 0, 2, steps=4, mode="threshold", threshold=0.05)
    assert batch.shape == (3, 4, T, 2, P)
    for k in range(3):
        np.testing.assert_array_equal(batch[k], generate.style_path(model, z[k], 0, 2, 4, "threshold", 0.05))


@pytest.mark.parametrize("chords", ["independent", "nade"])
def test_the_steps_of_a_path_share_their_dice(chords):
    """Drawn, the steps of one path use the same dice: where the style does not change what the decoder says,
    every step is the same grid; separate codes still get their own dice."""
    model = GridVAE(replace(styled_model().config, chords=chords))
    with torch.no_grad():
        model.style_embedding.weight.zero_()  # every style decodes alike
        model.to_logits.bias.fill_(-1.0)      # and notes are neither certain nor rare
    z = torch.randn(3, 8)
    path = generate.style_path(model, z, 0, 2, steps=4, mode="bernoulli", seed=1)
    assert path.any() and all((path[k] == path[k, :1]).all() for k in range(3))
    assert not np.array_equal(path[0, 0], path[1, 0])
    fresh = generate.decode(model, z[:1].repeat(4, 1), 0, "bernoulli", generator=torch.Generator().manual_seed(1))
    assert not (fresh == fresh[:1]).all()  # without shared dice, the same code draws four different grids
    grid = np.random.default_rng(0).random((T, 2, P)) < 0.1
    line = generate.interpolate(model, grid, grid, steps=3, style=0, mode="bernoulli", seed=2)
    assert (line == line[:1]).all()
    with pytest.raises(ValueError, match="share their dice"):
        generate.decode(model, z[:2], 0, "bernoulli", shared=3)
    with pytest.raises(ValueError, match="shared"):
        generate.decode(model, z[:2], 0, "bernoulli", shared=0)


def test_style_vectors_and_shifted_transfer():
    model = styled_model()
    grids = np.random.default_rng(1).random((6, T, 2, P)) < 0.1
    labels = np.array([0, 0, 1, 1, 1, 0])
    vectors = generate.style_vectors(model, grids, labels)
    assert vectors.shape == (3, 8) and torch.equal(vectors[2], torch.zeros(8))  # style 2 has no grids
    mu = generate.encode(model, grids, labels)
    torch.testing.assert_close(vectors[0], mu[[0, 1, 5]].mean(0))
    torch.testing.assert_close(vectors[1], mu[[2, 3, 4]].mean(0))
    # moving z by vectors[1] - vectors[0] is the same as decoding the moved code
    moved = generate.transfer(model, grids[:2], 0, 1, threshold=0.05, vectors=vectors)
    expected = generate.decode(model, generate.encode(model, grids[:2], 0) + vectors[1] - vectors[0], 1,
                               threshold=0.05)
    np.testing.assert_array_equal(moved, expected)
    far = torch.zeros(3, 8)
    far[1] = 25.0  # a shift this large changes what the decoder makes
    assert not np.array_equal(generate.transfer(model, grids[:2], 0, 1, threshold=0.05, vectors=far),
                              generate.transfer(model, grids[:2], 0, 1, threshold=0.05))


def test_a_drawn_transfer_is_the_moved_code_drawn_with_its_seed():
    model = styled_model()
    grids = np.random.default_rng(1).random((4, T, 2, P)) < 0.1
    vectors = generate.style_vectors(model, grids, np.array([0, 0, 1, 1]))
    drawn = generate.transfer(model, grids, 0, 1, "bernoulli", vectors=vectors, seed=3)
    moved = generate.encode(model, grids, 0) + vectors[1] - vectors[0]
    np.testing.assert_array_equal(drawn, generate.decode(model, moved, 1, "bernoulli",
                                                         generator=torch.Generator().manual_seed(3)))
    np.testing.assert_array_equal(drawn, generate.transfer(model, grids, 0, 1, "bernoulli", vectors=vectors, seed=3))
    assert not np.array_equal(drawn, generate.transfer(model, grids, 0, 1, "bernoulli", vectors=vectors, seed=4))


def test_a_style_path_moves_z_as_transfer_does():
    """Without a style code, the path's code moves by t times the difference of the mean codes: its ends are z
    decoded in the first style, and z shifted into the second (the transfer's shift)."""
    model = styled_model()
    vectors = torch.zeros(3, 8)
    vectors[2] = 25.0  # far enough to change what the decoder makes
    z = torch.randn(2, 8)
    path = generate.style_path(model, z, 0, 2, steps=3, mode="threshold", threshold=0.05, vectors=vectors)
    np.testing.assert_array_equal(path[:, 0], generate.decode(model, z, 0, "threshold", 0.05))
    np.testing.assert_array_equal(path[:, -1], generate.decode(model, z + 25.0, 2, "threshold", 0.05))
    still = generate.style_path(model, z, 0, 2, steps=3, mode="threshold", threshold=0.05)
    assert not np.array_equal(path[:, -1], still[:, -1])


def test_style_regions_are_the_gaussians_of_each_styles_codes_and_samples_come_from_them():
    """Each style's region, and a plain model's one region; samples from them."""
    model = styled_model()
    grids = np.random.default_rng(1).random((6, T, 2, P)) < 0.1
    labels = np.array([0, 0, 1, 1, 1, 0])
    means, spreads = generate.style_regions(model, grids, labels)
    mu, logvar = model.eval().encode(torch.as_tensor(grids, dtype=torch.float32), torch.as_tensor(labels))
    mine = mu.detach()[[2, 3, 4]]
    torch.testing.assert_close(means[1], mine.mean(0))
    torch.testing.assert_close(spreads[1] ** 2, mine.var(0, unbiased=False) + logvar.detach()[[2, 3, 4]].exp().mean(0))
    assert torch.equal(means[2], torch.zeros(8)) and torch.equal(spreads[2], torch.ones(8))  # no grids: the prior
    # A sample's code is mean + spread * the prior's draw, for each sample's own style.
    far = (torch.zeros(3, 8), torch.ones(3, 8))
    far[0][1] = 25.0
    style = [0, 1, 0]
    got = generate.sample(model, 3, style=style, mode="threshold", threshold=0.05, seed=3, regions=far)
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(3))
    z[1] += 25.0
    np.testing.assert_array_equal(got, generate.decode(model, z, style, mode="threshold", threshold=0.05))
    assert not np.array_equal(got, generate.sample(model, 3, style=style, mode="threshold", threshold=0.05, seed=3))
    with pytest.raises(ValueError, match="style indices"):
        generate.sample(model, 1, style=torch.tensor([[0.5, 0.5, 0.0]]), seed=0, regions=far)
    # A model without styles has one region, that of all its pieces.
    plain = GridVAE(replace(PRESETS["smoke"], format=FMT)).eval()
    means, spreads = generate.style_regions(plain, grids)
    mu, logvar = (t.detach() for t in plain.encode(torch.as_tensor(grids, dtype=torch.float32)))
    torch.testing.assert_close(means, mu.mean(0, keepdim=True))
    torch.testing.assert_close(spreads[0] ** 2, mu.var(0, unbiased=False) + logvar.exp().mean(0))
    one = (torch.full((1, 8), 25.0), torch.ones(1, 8))
    got = generate.sample(plain, 2, mode="threshold", threshold=0.05, seed=3, regions=one)
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(3)) + 25.0
    np.testing.assert_array_equal(got, generate.decode(plain, z, mode="threshold", threshold=0.05))
    with pytest.raises(ValueError, match=r"one row per model \(it has no styles\); got \(3, 8\)"):
        generate.sample(plain, 1, seed=0, regions=far)


def test_judge_hears_whole_phrases_and_older_judges_still_load():
    config = metrics.ClassifierConfig(n_pitches=P, n_styles=3, channels=8)
    judge = metrics.StyleClassifier(config).eval()
    # Each layer doubles its dilation: the default four layers of kernel 5 see 61 steps, 30 on either side, so the
    # convolutions' output at step 30 hears steps 0 to 60 and none beyond (positive weights: every path is live).
    for conv in [judge.conv1, judge.conv2, *judge.deeper]:
        conv.weight.data.abs_()
    x = torch.rand(1, 64, 2, P, requires_grad=True)
    h = x.flatten(2).transpose(1, 2)
    for conv in [judge.conv1, judge.conv2, *judge.deeper]:
        h = torch.relu(conv(h))
    h[0, :, 30].sum().backward()
    reached = x.grad[0].abs().sum((1, 2)) > 0
    assert reached[:61].all() and not reached[61:].any() and config.layers == 4
    # A judge saved before `layers` existed: two convolutions, its weights load into that shape.
    old = {"n_pitches": P, "n_styles": 3, "channels": 8, "kernel": 5, "dropout": 0.2}
    two = metrics.StyleClassifier(metrics.ClassifierConfig.from_dict(old))
    assert two.config.layers == 2 and len(two.deeper) == 0
    state = {k: v for k, v in judge.state_dict().items() if not k.startswith("deeper")}
    two.load_state_dict(state)
    assert metrics.predict(two, np.zeros((2, 64, 2, P), dtype=bool)).shape == (2, 3)
