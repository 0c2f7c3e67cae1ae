"""SiT2D: the 2D latent SiT backbone (shapes, conditioning, forward-mode AD, checkpoints)."""
from __future__ import annotations

import json

import pytest
import torch

from operando.nn.sit2d import SiT2D, SiT2DConfig, sincos_positions_2d


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _randomised(model: SiT2D, seed: int = 0, std: float = 0.2) -> SiT2D:
    """adaLN-Zero starts as the zero map; give every parameter random values to test it."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(std * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return model


def _inputs(batch=2, channels=4, size=8, cond_dim=3, dtype=torch.float32, seed=1):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, channels, size, size, generator=g).to(dtype)
    s0 = torch.randn(batch, channels, size, size, generator=g).to(dtype)
    t = torch.rand(batch, generator=g).to(dtype)
    r = t * torch.rand(batch, generator=g).to(dtype)
    cond = torch.randn(batch, cond_dim, generator=g).to(dtype)
    return z, t, r, s0, cond


def test_presets():
    base = SiT2DConfig.preset("base")
    assert (base.hidden_size, base.depth, base.num_heads, base.patch_size) == (768, 12, 12, 2)
    assert base.num_patches == 256                            # 4 x 32 x 32 latent, patch 2
    tiny = SiT2DConfig.preset("tiny", input_size=8, cond_dim=5)
    assert tiny.cond_dim == 5 and tiny.num_patches == 16
    with pytest.raises(ValueError, match="unknown SiT2D preset"):
        SiT2DConfig.preset("huge")
    with pytest.raises(ValueError, match="multiple of num_heads"):
        SiT2DConfig(hidden_size=66, num_heads=4)


def test_zero_init_shapes_and_odd_sizes():
    model = SiT2D(SiT2DConfig.preset("tiny", input_size=8, cond_dim=3))
    z, t, r, s0, cond = _inputs()
    u = model(z, t, r, s0=s0, cond_vec=cond)
    assert u.shape == z.shape and torch.count_nonzero(u) == 0   # adaLN-Zero: starts at zero
    _randomised(model)
    odd = torch.randn(2, 4, 7, 5)                                # padded to 8 x 6, cropped back
    out = model(odd, t, r, s0=odd.clone(), cond_vec=cond)
    assert out.shape == odd.shape and torch.isfinite(out).all()


def test_conditioning_contract():
    model = _randomised(SiT2D(SiT2DConfig.preset("tiny", input_size=8, cond_dim=3)))
    z, t, r, s0, cond = _inputs()
    with_cond = model(z, t, r, s0=s0, cond_vec=cond)
    null = model(z, t, r, s0=s0, cond_vec=None)
    dropped = model(z, t, r, s0=s0, cond_vec=cond, drop_cond=torch.tensor([True, False]))
    torch.testing.assert_close(dropped[0], null[0])
    torch.testing.assert_close(dropped[1], with_cond[1])
    assert not torch.allclose(with_cond, null)
    # The condition image and the gap t - r both change the output.
    assert not torch.allclose(model(z, t, r, s0=torch.zeros_like(s0), cond_vec=cond), with_cond)
    assert not torch.allclose(model(z, t, t, s0=s0, cond_vec=cond), with_cond)
    with pytest.raises(ValueError, match="s0 must have the shape"):
        model(z, t, r, cond_vec=cond)
    with pytest.raises(ValueError, match="cond_vec must have shape"):
        model(z, t, r, s0=s0, cond_vec=cond[:, :2])
    plain = SiT2D(SiT2DConfig.preset("tiny", input_size=8, use_s0=False))
    with pytest.raises(ValueError, match="use_s0=False"):
        plain(z, t, r, s0=s0)
    with pytest.raises(ValueError, match="cond_dim=0"):
        plain(z, t, r, cond_vec=cond)


def test_patches_are_local_and_positions_matter():
    """Without the transformer blocks every token is processed on its own, so changing one
    latent pixel must change exactly the P x P patch that holds it: patchify and unpatchify
    put every number back where it came from."""
    model = _randomised(SiT2D(SiT2DConfig.preset("tiny", input_size=8, depth=1)))
    model.blocks = torch.nn.ModuleList()                      # tokens stay independent
    z, t, r, s0, _ = _inputs()
    base = model(z, t, r, s0=s0)
    bumped = z.clone()
    bumped[:, :, 2, 5] += 1.0                                 # pixel in patch (row 1, col 2)
    change = (model(bumped, t, r, s0=s0) - base).abs().sum(dim=(0, 1))
    assert change[2:4, 4:6].sum() > 0
    change[2:4, 4:6] = 0
    assert change.sum() == 0
    pos = sincos_positions_2d(4, 4, 64)
    assert pos.shape == (16, 64) and not torch.allclose(pos[1], pos[4])


def test_jvp_matches_finite_differences_float64():
    # Moderate weights: with t scaled by 1000 large weights make u so curved in t that central
    # differences need a tiny step.
    model = _randomised(SiT2D(SiT2DConfig.preset("tiny", input_size=4, cond_dim=3)), std=0.05).double()
    z, t, r, s0, cond = _inputs(size=4, dtype=torch.float64)
    g = torch.Generator().manual_seed(5)
    dz = torch.randn(z.shape, generator=g, dtype=torch.float64)
    dr, dt = torch.zeros_like(r), torch.ones_like(t)           # MeanFlow's tangent (v, 0, 1)

    def u(z_, r_, t_):
        return model(z_, t_, r_, s0=s0, cond_vec=cond)

    value, tangent = torch.func.jvp(u, (z, r, t), (dz, dr, dt))
    torch.testing.assert_close(value, u(z, r, t))
    eps = 1e-7
    finite = (u(z + eps * dz, r + eps * dr, t + eps * dt)
              - u(z - eps * dz, r - eps * dr, t - eps * dt)) / (2 * eps)
    assert tangent.abs().max() > 1e-3                          # a non-trivial derivative
    assert float(((tangent - finite).norm() / tangent.norm()).detach()) < 1e-6


def test_learned_positions_and_checkpoint_round_trip(tmp_path):
    from operando.train.checkpoint import save_weights

    config = SiT2DConfig.preset("tiny", input_size=8, cond_dim=3, pos_embed="learned")
    model = _randomised(SiT2D(config))
    (tmp_path / "model_config.json").write_text(json.dumps(config.to_dict()))
    save_weights(tmp_path, model=model, ema=model)
    loaded = SiT2D.from_run(tmp_path)
    assert loaded.config == config
    z, t, r, s0, cond = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded(z, t, r, s0=s0, cond_vec=cond),
                                   model(z, t, r, s0=s0, cond_vec=cond), rtol=0, atol=0)
        smaller = torch.randn(2, 4, 6, 6)
        assert loaded(smaller, t, r, s0=smaller, cond_vec=cond).shape == smaller.shape
    with pytest.raises(ValueError, match="learned"):
        loaded(torch.randn(2, 4, 10, 10), t, r, s0=torch.randn(2, 4, 10, 10), cond_vec=cond)


def test_meanflow_loss_runs_on_latents():
    from operando.flow.meanflow import MeanFlow

    torch.manual_seed(0)
    model = SiT2D(SiT2DConfig.preset("tiny", input_size=8, cond_dim=3))
    objective = MeanFlow()
    latents = torch.randn(3, 4, 8, 8)
    noise = objective.draw(3, (4, 8, 8), torch.Generator().manual_seed(0))
    result = objective.loss(model, latents, noise, {"s0": torch.randn(3, 4, 8, 8),
                                                    "cond_vec": torch.randn(3, 3)})
    result.loss.backward()
    assert torch.isfinite(result.loss)
    assert model.final.linear.weight.grad.abs().sum() > 0
