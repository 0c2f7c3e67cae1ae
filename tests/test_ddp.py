"""Data-parallel training: 2 CPU processes (gloo) equal one process on the same global batch."""
from __future__ import annotations

import json
import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from operando.nn import SiT1D, SiT1DConfig
from operando.train import TrainConfig, train
from operando.train.checkpoint import load_tensors, save_tensors
from operando.train.distributed import free_port

WIDTH, COND_DIM = 24, 3


def data():
    g = torch.Generator().manual_seed(0)
    return {"x": torch.randn(10, WIDTH, generator=g, dtype=torch.float64),
            "s0": torch.randn(10, WIDTH, generator=g, dtype=torch.float64),
            "cond_vec": torch.randn(10, COND_DIM, generator=g, dtype=torch.float64)}


def model():
    torch.manual_seed(0)
    return SiT1D(SiT1DConfig(width=WIDTH, cond_dim=COND_DIM, patch_size=4, hidden_size=16, depth=2,
                             num_heads=2)).double()


CONFIGS = {
    # MeanFlow with its default guidance and condition dropout.
    "meanflow": TrainConfig(steps=3, batch_size=8, lr=1e-2, log_every=1, ckpt_every=2,
                            progress=False, ema_decay=0.5),
    # Flow matching without dropout: the null embedding gets no gradient (unused parameter).
    "flow_matching": TrainConfig(steps=2, batch_size=8, lr=1e-2, progress=False,
                                 objective="flow_matching", cond_drop_prob=0.0),
}


def _worker(rank: int, world_size: int, ports: list[int], folder: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    for port, (name, config) in zip(ports, CONFIGS.items()):
        os.environ["MASTER_PORT"] = str(port)      # train() joins and leaves the group itself
        net = model()
        seen = []

        def record(step, loss):   # the group this rank trained in, and its shard's loss
            seen.append({"world_size": dist.get_world_size(), "loss": loss})

        train(net, None, data(), config, os.path.join(folder, name), callback=record)
        save_tensors(os.path.join(folder, f"{name}-rank{rank}.safetensors"), net.state_dict())
        with open(os.path.join(folder, f"{name}-rank{rank}.json"), "w") as handle:
            json.dump(seen, handle)


def test_two_processes_match_one_process_on_the_same_global_batch(tmp_path):
    mp.spawn(_worker, args=(2, [free_port(), free_port()], str(tmp_path)), nprocs=2, join=True)
    for name, config in CONFIGS.items():
        ranks = [load_tensors(tmp_path / f"{name}-rank{r}.safetensors") for r in range(2)]
        seen = [json.loads((tmp_path / f"{name}-rank{r}.json").read_text()) for r in range(2)]
        assert all(s["world_size"] == 2 for log in seen for s in log)
        assert seen[0][0]["loss"] != seen[1][0]["loss"]   # each rank had its own half batch
        single = model()
        train(single, None, data(), config, tmp_path / f"{name}-single")
        moved = False
        for key, value in single.state_dict().items():
            assert torch.equal(ranks[0][key], ranks[1][key]), key
            torch.testing.assert_close(ranks[0][key], value, rtol=1e-5, atol=1e-7)
            moved |= not torch.equal(value, model().state_dict()[key])
        assert moved                                      # training did change the weights
        ema_ddp = load_tensors(tmp_path / name / "ema.safetensors")
        ema_single = load_tensors(tmp_path / f"{name}-single" / "ema.safetensors")
        for key, value in ema_single.items():
            torch.testing.assert_close(ema_ddp[key], value, rtol=1e-5, atol=1e-7)
