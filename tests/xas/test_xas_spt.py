"""SPT model, baselines, training loop and checkpoints (issue 36, item 3)."""
import numpy as np
import pytest
import torch

from operando.xas.baselines import CNN1D, MLP, MajorityBaseline, NetConfig
from operando.xas.dataset import XasSet, material_folds
from operando.xas.fit import FitConfig, fit, load_model, predict_net, save_model
from operando.xas.spt import SPT, SPTConfig, knn_dynamic, ring_neighbours

L = 241
SMALL = dict(length=L, n_freq=32, freq_rows=4, patch=16, dim=32, n_nodes=8, heads=4, k=3, graph_layers=2, dropout=0.0)


def _toy_set(n=60, seed=0) -> XasSet:
    """Edges whose position sets OS and whose white-line height sets CN: learnable in seconds."""
    rng = np.random.default_rng(seed)
    e = np.linspace(-5, 55, L)
    cn_cls = rng.integers(0, 5, n)
    os_cls = rng.integers(0, 3, n)
    x = np.empty((n, L), np.float32)
    for i in range(n):
        edge = 2.0 + 3.0 * os_cls[i]
        x[i] = 0.5 + np.arctan((e - edge) / 1.5) / np.pi + (0.2 + 0.25 * cn_cls[i]) * np.exp(-((e - edge - 4) / 2.5) ** 2)
    cn = cn_cls + 3
    return XasSet(x=x, grid=e, anchor=0.0, cn=cn, cn_cls=cn_cls, os=os_cls + 1.0, os_cls=os_cls,
                  ocn=cn.astype(float), cn2=2.0 * cn_cls, nn_dist=1.9 + 0.05 * cn_cls,
                  material=np.array([f"m{i // 2}" for i in range(n)]), spectrum_id=np.array([str(i) for i in range(n)]))


def test_forward_shapes_all_variants():
    x = torch.rand(5, L)
    for kw in ({}, {"use_fft": False}, {"use_raw": False}, {"dynamic_graph": False}):
        out = SPT(SPTConfig(**SMALL, **kw))(x)
        assert out["cn"].shape == (5, 5) and out["os"].shape == (5, 3) and out["reg"].shape == (5, 3)
    with pytest.raises(ValueError, match="expects"):
        SPT(SPTConfig(**SMALL))(torch.rand(5, L + 1))
    with pytest.raises(ValueError):
        SPTConfig(**{**SMALL, "use_fft": False, "use_raw": False})


def test_fft_switches_change_what_the_model_sees():
    torch.manual_seed(0)
    x = torch.rand(4, L)
    # a sinusoid at an rfft bin that the FFT branch does not keep (kept: bins 0..31)
    bump = 0.3 * torch.cos(2 * torch.pi * 100 * torch.arange(L) / L)
    fft_only = SPT(SPTConfig(**SMALL, use_raw=False)).eval()
    full = SPT(SPTConfig(**SMALL)).eval()
    no_fft = SPT(SPTConfig(**SMALL, use_fft=False)).eval()
    with torch.no_grad():
        assert torch.allclose(fft_only(x)["cn"], fft_only(x + bump)["cn"], atol=1e-5)  # blind to it
        assert not torch.allclose(full(x)["cn"], full(x + bump)["cn"], atol=1e-4)      # raw branch sees it
    names = lambda m: {n.split(".")[0] for n, _ in m.named_parameters()}
    assert "freq_conv" in names(full) and "freq_conv" not in names(no_fft) and "patch_embed" not in names(fft_only)
    # the raw-only model ignores which frequencies were selected, the FFT models do not
    sel = torch.arange(32) + 40
    before = no_fft(x)["cn"].detach().clone()
    no_fft.freq_index.copy_(sel)
    assert torch.equal(before, no_fft(x)["cn"].detach())
    before = full(x)["cn"].detach().clone()
    full.freq_index.copy_(sel)
    assert not torch.allclose(before, full(x)["cn"].detach(), atol=1e-4)


def test_dynamic_vs_fixed_graph():
    torch.manual_seed(0)
    dyn = SPT(SPTConfig(**SMALL)).eval()
    fixed = SPT(SPTConfig(**SMALL, dynamic_graph=False)).eval()
    fixed.load_state_dict(dyn.state_dict())  # same weights, only the neighbour rule differs
    x = torch.rand(6, L)
    with torch.no_grad():
        h = dyn.nodes(x)
        nd, nf = dyn.neighbours(h), fixed.neighbours(h)
        assert not torch.equal(nd[0], nd[1]) or not torch.equal(nd[2], nd[3])  # per-sample links
        assert torch.equal(nf[0], nf[1]) and torch.equal(nf[0], ring_neighbours(8, 3))
        assert not torch.allclose(dyn(x)["cn"], fixed(x)["cn"], atol=1e-5)


def test_knn_and_ring_closed_form():
    h = torch.tensor([[[0.0], [1.0], [3.0], [10.0]]])
    np.testing.assert_array_equal(knn_dynamic(h, 2)[0].numpy(), [[1, 2], [0, 2], [1, 0], [2, 1]])
    np.testing.assert_array_equal(ring_neighbours(5, 3).numpy(), [[1, 4, 2], [2, 0, 3], [3, 1, 4], [4, 2, 0], [0, 3, 1]])


@pytest.mark.parametrize("make", [lambda: SPT(SPTConfig(**SMALL)), lambda: CNN1D(NetConfig(kind="cnn", length=L, width=32, dropout=0.0)),
                                  lambda: MLP(NetConfig(kind="mlp", length=L, width=32, dropout=0.0))])
def test_overfit_tiny_set(make):
    torch.set_num_threads(1)
    s = _toy_set(48)
    model = make()
    hist = fit(model, s, FitConfig(epochs=40, batch_size=24, lr=4e-3, seed=0))
    p = predict_net(model, s.x)
    assert hist["loss"][-1] < 0.3 * hist["loss"][0]
    assert (p["cn_prob"].argmax(1) == s.cn_cls).mean() >= 0.95
    assert (p["os_prob"].argmax(1) == s.os_cls).mean() >= 0.95
    assert np.abs(p["reg"][:, 1] - s.ocn).mean() < 0.5


def test_checkpoint_roundtrip_cpu(tmp_path):
    torch.manual_seed(1)
    m = SPT(SPTConfig(**SMALL))
    m.select_dominant_frequencies(torch.rand(10, L))
    run = save_model(tmp_path / "run", m, FitConfig(seed=3), extra={"energy_shift_ev": 1.5},
                     tensors={"pca_mean": torch.ones(L)})
    m2, cfg, extra = load_model(run)
    x = torch.rand(3, L)
    m.eval()
    assert torch.equal(m(x)["cn"], m2(x)["cn"]) and torch.equal(m.freq_index, m2.freq_index)
    assert cfg["fit"]["seed"] == 3 and cfg["energy_shift_ev"] == 1.5 and torch.equal(extra["pca_mean"], torch.ones(L))
    assert (run / "config.json").is_file() and not list(tmp_path.glob(".run*"))


def test_material_folds_never_split_a_material():
    mats = np.array([f"m{i % 37}" for i in range(500)])
    f = material_folds(mats, k=5, seed=0)
    for m in np.unique(mats):
        assert len(set(f[mats == m])) == 1
    assert set(f) == set(range(5))


def test_majority_baseline():
    s = _toy_set(30)
    p = MajorityBaseline().fit(s).predict(s.x[:4])
    assert (p["cn"] == np.bincount(s.cn_cls).argmax()).all()
    np.testing.assert_allclose(p["reg"][0], [s.cn2.mean(), s.ocn.mean(), s.nn_dist.mean()])


def test_augmentation_changes_half_the_batch_and_keeps_the_rest():
    from operando.xas.fit import augment_batch

    g = torch.Generator().manual_seed(0)
    e = torch.linspace(-5, 45, 201)
    x = (0.5 + torch.atan(e / 1.0) / torch.pi).repeat(64, 1)
    y = augment_batch(x, 0.25, FitConfig(augment=True), g)
    changed = (y - x).abs().amax(1) > 1e-6
    assert 16 < int(changed.sum()) < 48 and torch.equal(y[~changed], x[~changed])
    assert (y[changed] - x[changed]).abs().amax() < 0.5


def test_augmented_training_still_overfits_tiny_set():
    torch.set_num_threads(1)
    s = _toy_set(48)
    model = SPT(SPTConfig(**SMALL))
    fit(model, s, FitConfig(epochs=40, batch_size=24, lr=4e-3, seed=0, augment=True))
    assert (predict_net(model, s.x)["os_prob"].argmax(1) == s.os_cls).mean() >= 0.9


def test_model_manifest_is_checked_on_load(tmp_path):
    """A changed or missing file of a model folder stops the load with one error naming the file and
    the rebuild command; the shipped models carry a manifest that matches."""
    import shutil

    from operando.errors import InputError
    from operando.xas.cli.predict import DEFAULT_MODEL

    m = SPT(SPTConfig(**SMALL))
    m.select_dominant_frequencies(torch.rand(10, L))
    run = save_model(tmp_path / "run", m, rebuild="operando xas train --force --out RUN")
    load_model(run)
    cfg = run / "config.json"
    cfg.write_text(cfg.read_text() + " ")  # one byte more: still valid JSON, another hash
    with pytest.raises(InputError) as e:
        load_model(run)
    assert str(cfg) in str(e.value) and "differs from the manifest's" in str(e.value)
    assert "operando xas train --force --out RUN" in str(e.value)
    (run / "manifest.json").unlink()
    with pytest.raises(InputError, match="manifest.json: missing.*operando xas train --force --out"):
        load_model(run)
    for shipped in (DEFAULT_MODEL, DEFAULT_MODEL.with_name("spt-cu-augmented")):
        copy = tmp_path / shipped.name
        shutil.copytree(shipped, copy)
        load_model(copy)
        (copy / "model.safetensors").write_bytes((copy / "model.safetensors").read_bytes()[:-4] + b"\0\0\0\0")
        with pytest.raises(InputError, match=f"{copy / 'model.safetensors'}: SHA-256 .*rebuild .*--out src/operando/xas/models/{shipped.name}"):
            load_model(copy)
