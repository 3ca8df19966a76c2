"""Forward+backward throughput of a RandomLayer vs per-node Python loops (CPU).

The vectorised layer evaluates all nodes with one gather and one node call.
The baselines loop over the nodes: each node is its own single-node module
(parameters copied from the layer's node module) evaluated on its own inputs
with the same math. "per-node loop" also differentiates each node on its own
(one ``backward`` per node); "per-node loop, one backward" stacks the node
outputs and calls ``backward`` once, as the original DiffLUT's ModuleList
layers did. All runs use the same input bits and output gradient; the script
checks that outputs and parameter gradients agree before timing, and reports
the best of ``--iters`` timed steps after one warm-up step.

    python benchmarks/bench_layers.py --nodes 8000 --batch 256 --iters 5 --node-type dwn
"""

from __future__ import annotations

import argparse
import time

import torch

from difflut.layers import RandomLayer
from difflut.nodes.base import BaseNode


def single_node_copies(node: BaseNode, node_kwargs: dict) -> list[BaseNode]:
    """One num_nodes=1 module per node, holding that node's slice of every per-node tensor."""
    cls = type(node)
    state = node.state_dict()
    copies = []
    for n in range(node.num_nodes):
        single = cls(num_nodes=1, k=node.k, **node_kwargs)
        single.load_state_dict(
            {key: (t[n : n + 1] if t.dim() and t.shape[0] == node.num_nodes else t) for key, t in state.items()}
        )
        copies.append(single.train())
    return copies


def loop_step(copies: list[BaseNode], wiring: torch.Tensor, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    outs = []
    for n, node in enumerate(copies):
        y = node(x[:, wiring[n]].unsqueeze(1))
        y.backward(grad[:, n : n + 1])
        outs.append(y.detach())
    return torch.cat(outs, dim=1)


def loop_one_backward_step(
    copies: list[BaseNode], wiring: torch.Tensor, x: torch.Tensor, grad: torch.Tensor
) -> torch.Tensor:
    y = torch.cat([node(x[:, wiring[n]].unsqueeze(1)) for n, node in enumerate(copies)], dim=1)
    y.backward(grad)
    return y


def layer_step(layer: RandomLayer, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    y = layer(x)
    y.backward(grad)
    return y


def timed(step, iters: int) -> float:
    """Best of ``iters`` timed calls after one warm-up call, in seconds (robust to other load)."""
    step()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=3136)
    parser.add_argument("--nodes", type=int, default=8000)
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--node-type", default="dwn")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    layer = RandomLayer(args.inputs, args.nodes, node_type=args.node_type, k=args.k, seed=0).train()
    copies = single_node_copies(layer.node, layer.node_kwargs)
    wiring = layer.connections()
    x = torch.randint(0, 2, (args.batch, args.inputs)).float()
    grad = torch.randn(args.batch, args.nodes)

    def zero_copies():
        for node in copies:
            node.zero_grad(set_to_none=True)

    y_layer = layer_step(layer, x, grad)
    for step in (loop_step, loop_one_backward_step):
        zero_copies()
        y_loop = step(copies, wiring, x, grad)
        assert torch.allclose(y_layer, y_loop, atol=1e-6), "loop baseline and layer disagree"
        for n in (0, args.nodes // 2, args.nodes - 1):
            for p_layer, p_single in zip(layer.node.parameters(), copies[n].parameters()):
                assert torch.allclose(p_layer.grad[n : n + 1], p_single.grad, rtol=1e-4, atol=1e-6), "gradients disagree"

    def run_layer():
        layer.zero_grad(set_to_none=True)
        layer_step(layer, x, grad)

    def run_loop(step):
        def run():
            zero_copies()
            step(copies, wiring, x, grad)

        return run

    rows = [
        ("vectorised RandomLayer", timed(run_layer, args.iters)),
        ("per-node loop", timed(run_loop(loop_step), args.iters)),
        ("per-node loop, one backward", timed(run_loop(loop_one_backward_step), args.iters)),
    ]

    print(f"RandomLayer {args.inputs} -> {args.nodes}, node_type={args.node_type}, k={args.k}, "
          f"batch={args.batch}, iters={args.iters}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print()
    print("| implementation | s / iteration (best of iters) | samples / s | layer speed-up |")
    print("|---|---:|---:|---:|")
    t_layer = rows[0][1]
    for name, t in rows:
        print(f"| {name} | {t:.4f} | {args.batch / t:,.0f} | {t / t_layer:.1f}x |")


if __name__ == "__main__":
    main()
