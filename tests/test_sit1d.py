"""The 1D SiT/DiT backbone: shapes, padding, adaLN-Zero start, conditioning and CFG drop."""
from __future__ import annotations

import pytest
import torch

from operando.nn import SiT1D, SiT1DConfig


def make(width=30, cond_dim=4, perturb=True, **overrides):
    torch.manual_seed(0)
    config = SiT1DConfig(width=width, cond_dim=cond_dim, patch_size=8, hidden_size=32, depth=2,
                         num_heads=4, **overrides)
    model = SiT1D(config)
    if perturb:  # leave the adaLN-Zero identity start so every input matters
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
    return model


def inputs(batch=3, width=30, cond_dim=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return dict(z=torch.randn(batch, width, generator=g), t=torch.rand(batch, generator=g),
                r=torch.zeros(batch), s0=torch.randn(batch, width, generator=g),
                cond_vec=torch.randn(batch, cond_dim, generator=g))


def call(model, z, t, r, **cond):
    return model(z, t, r, **cond)


def test_output_has_the_input_width_even_when_not_a_multiple_of_the_patch():
    model = make(width=30)
    for width in (30, 24, 7):
        out = call(model, **inputs(width=width))
        assert out.shape == (3, width) and torch.isfinite(out).all()


def test_adaln_zero_start_predicts_exactly_zero():
    model = make(perturb=False)
    assert torch.equal(call(model, **inputs()), torch.zeros(3, 30))


def test_every_conditioning_input_changes_the_output():
    model = make()
    base = inputs()
    reference = call(model, **base)
    for name in ("t", "r", "s0", "cond_vec"):
        changed = dict(base)
        changed[name] = base[name] + 0.3
        assert not torch.allclose(call(model, **changed), reference), name


def test_samples_do_not_interact_across_the_batch():
    model = make()
    both = inputs(batch=4)
    out = call(model, **both)
    first = call(model, **{k: v[:1] for k, v in both.items()})
    torch.testing.assert_close(out[:1], first)


def test_dropping_the_condition_uses_the_null_embedding_and_keeps_s0():
    model = make()
    base = inputs()
    drop = torch.tensor([True, False, True])
    dropped = call(model, **base, drop_cond=drop)
    unconditional = call(model, **{**base, "cond_vec": None})
    conditional = call(model, **base)
    torch.testing.assert_close(dropped[drop], unconditional[drop])
    torch.testing.assert_close(dropped[~drop], conditional[~drop])
    # The null branch still sees s0 (documented choice).
    other_s0 = call(model, **{**base, "cond_vec": None, "s0": base["s0"] + 1.0})
    assert not torch.allclose(other_s0, unconditional)
    # A dropped condition's values no longer matter.
    torch.testing.assert_close(call(model, **{**base, "cond_vec": base["cond_vec"] * 5},
                                    drop_cond=torch.ones(3, dtype=torch.bool)), unconditional)


def test_without_s0_or_condition_vector():
    model = make(cond_dim=0, use_s0=False)
    x = inputs()
    out = model(x["z"], x["t"], x["r"])
    assert out.shape == (3, 30)
    with pytest.raises(ValueError, match="use_s0=False"):
        model(x["z"], x["t"], x["r"], s0=x["s0"])
    with pytest.raises(ValueError, match="cond_dim=0"):
        model(x["z"], x["t"], x["r"], cond_vec=x["cond_vec"])


def test_shape_errors_are_explicit():
    model = make()
    x = inputs()
    with pytest.raises(ValueError, match="s0 must have the shape"):
        model(x["z"], x["t"], x["r"], s0=x["s0"][:, :5], cond_vec=x["cond_vec"])
    with pytest.raises(ValueError, match="cond_vec must have shape"):
        model(x["z"], x["t"], x["r"], s0=x["s0"], cond_vec=x["cond_vec"][:, :2])
    with pytest.raises(ValueError, match="multiple of"):
        SiT1DConfig(hidden_size=30, num_heads=4)


def test_learned_positions_fit_the_configured_width_only():
    model = make(width=30, pos_embed="learned")
    assert call(model, **inputs(width=30)).shape == (3, 30)
    with pytest.raises(ValueError, match="learned positional"):
        call(model, **inputs(width=60))


def test_presets_and_config_round_trip():
    small = SiT1DConfig.preset("small", width=601, cond_dim=16)
    base = SiT1DConfig.preset("base", width=601)
    assert (small.hidden_size, small.depth, small.num_heads, small.patch_size) == (128, 4, 4, 16)
    assert (base.hidden_size, base.depth, base.num_heads, base.patch_size) == (768, 12, 12, 2)
    assert small.num_patches == 38 and base.num_patches == 301
    assert SiT1DConfig.from_dict(small.to_dict()) == small
    n_small = SiT1D(small).num_parameters()
    assert 1_000_000 < n_small < 2_000_000
    with pytest.raises(ValueError, match="unknown SiT1D preset"):
        SiT1DConfig.preset("huge")
