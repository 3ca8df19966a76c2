"""Data-parallel training (difflut.distributed) with two gloo processes on the CPU.

Checks that the two replicas end identical (DistributedDataParallel averages their gradients), that
each rank trains on its own shard, that only rank 0 writes the checkpoint and that it loads.
"""

import torch

from difflut import distributed
from difflut.checkpoint import load
from difflut.models import get_model
from difflut.train_step import wrap_ddp
from difflut.training import train


def _data():
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (96, 28, 28), dtype=torch.uint8, generator=gen)
    return images, torch.randint(0, 10, (96,), generator=gen)


def _train_replica(folder: str) -> None:
    images, labels = _data()
    model = get_model("mnist_fc_8k_dwn", layer_widths=(60, 30))
    history = train(model, images, labels, epochs=2, batch_size=16, progress=False, out=f"{folder}/model.pt",
                    keep="last")
    # DDP must not broadcast the buffers before each forward: on the GPU that rewrites the wirings in place and
    # drops the layers' prepared wiring, which a CUDA-graph capture cannot rebuild (it reads the wiring)
    forward_buffer_sync = wrap_ddp(get_model("mnist_fc_8k_dwn", layer_widths=(60, 30)),
                                   torch.device("cpu")).will_sync_module_buffers()
    rank = distributed.rank()
    torch.save({"state": model.state_dict(), "history": history, "world": distributed.world_size(),
                "forward_buffer_sync": forward_buffer_sync}, f"{folder}/rank{rank}.pt")


def test_shard_splits_the_permutation_evenly():
    order = torch.randperm(11)
    parts = [distributed.shard(order, r, 3) for r in range(3)]
    assert [len(p) for p in parts] == [3, 3, 3]
    assert len(set(torch.cat(parts).tolist())) == 9
    assert torch.equal(distributed.shard(order, 0, 1), order)


def test_two_gloo_replicas_stay_identical_and_the_checkpoint_loads(tmp_path):
    distributed.spawn(_train_replica, (str(tmp_path),), nprocs=2, use_cuda=False)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert r0["forward_buffer_sync"] is False and r1["forward_buffer_sync"] is False
    for key, value in r0["state"].items():
        assert torch.equal(value, r1["state"][key]), key
    timing = ("seconds", "samples_per_s", "cpu_cores")  # the only per-process fields
    assert r0["history"] == [dict(r, **{key: r0["history"][i][key] for key in timing})
                             for i, r in enumerate(r1["history"])]
    assert r0["history"][-1]["epoch"] == 2
    # the replicas moved away from the initial model, and together (not each on its own shard alone)
    fresh = get_model("mnist_fc_8k_dwn", layer_widths=(60, 30)).state_dict()
    assert any(not torch.equal(fresh[k], v) for k, v in r0["state"].items() if v.is_floating_point())
    model = load(tmp_path / "model.pt")
    for key, value in model.state_dict().items():
        assert torch.equal(value, r0["state"][key]), key
    images, labels = _data()
    single = get_model("mnist_fc_8k_dwn", layer_widths=(60, 30))
    train(single, images[:48], labels[:48], epochs=2, batch_size=16, progress=False, keep="last")
    assert any(not torch.equal(single.state_dict()[k], v) for k, v in r0["state"].items() if v.is_floating_point())
