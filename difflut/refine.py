"""Exact table refinement: coordinate descent on a trained model's truth tables.

Training (EFD, learnable mapping) follows a surrogate gradient; the hardware is the eval function, a fixed
wiring of truth tables. :func:`refine_tables` re-chooses the table entries of that eval function directly:
for node n of a LUT layer and address a, the entry is flipped when the flip lowers the summed
cross-entropy of ``popcount / tau`` over the training samples whose input to n is a, all other tables fixed
(the change of every sample's class scores is computed exactly, through every node downstream of n).
The entries of one node address disjoint samples, so all improving flips of a node are applied together
and the loss never rises. A sweep visits the layers from the last to the first, the nodes of a layer in
order; the samples are the training images at every integer shift in ``-max_shift..max_shift`` (the
augmentation the zoo recipes train with), so the refined tables keep the shift invariance training taught.

With ``rewire=True`` each input slot of a node (random and learnable layers) is then re-chosen among all
the layer's inputs together with the best table for it (:meth:`_State.rewire`). The encoder, the bit selection
and the layer widths do not change; the refined model lowers and exports as any other (its tables are written
back into the node parameters, its connections into the layers, both read back and checked).

Cost: each node is one pass over the samples (tensor ops over all samples; the nodes are visited one at a
time because each visit sees the flips before it), each rewired slot one (samples x inputs x 2**(k-1))
product. Memory: the address (uint8) and output (bool) of every node for every sample.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .augment import check_max_shift, shift_images
from .layers import BitSelect, GroupedLayer, GroupSum, LearnableLayer, RandomLayer

_FLAT_LAYERS = (RandomLayer, LearnableLayer, GroupedLayer)


@dataclass
class RefineReport:
    """What :func:`refine_tables` did: samples used, and per sweep the flips per layer, the mean loss and
    the accuracy on those samples (``before`` holds the same figures for the trained tables)."""

    samples: int
    tau: float
    max_shift: int
    rewire: bool
    before: dict
    sweeps: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(samples=self.samples, tau=self.tau, max_shift=self.max_shift, rewire=self.rewire,
                    before=self.before, sweeps=self.sweeps)


def refinable_layers(model) -> list:
    """The model's LUT layers if every stage is a flat LUT layer (random, learnable, grouped) after an
    optional :class:`BitSelect`, read by a :class:`GroupSum`; else ValueError naming the stage."""
    stages = list(model.stages())
    if stages and isinstance(stages[0], BitSelect):
        stages = stages[1:]
    for stage in stages:
        if not isinstance(stage, _FLAT_LAYERS):
            raise ValueError(f"refine_tables supports flat LUT layers (random, learnable, grouped) read by a "
                             f"GroupSum; {model.model_name!r} has a {type(stage).__name__} stage")
    if not stages or not isinstance(model.head, GroupSum):
        raise ValueError(f"refine_tables needs LUT layers and a GroupSum head; {model.model_name!r} has "
                         f"{len(stages)} LUT layers and a {type(model.head).__name__} head")
    return stages


class _State:
    """Addresses, outputs and class scores of every sample under the current tables."""

    def __init__(self, model, layers, bits: torch.Tensor, labels: torch.Tensor, tau: float):
        dev = bits.device
        self.conn = [layer.connections().to(dev) for layer in layers]
        self.table = [layer.node.truth_table().to(dev) for layer in layers]
        self.k = [c.shape[1] for c in self.conn]
        self.addr, self.out = [], []
        self.inputs = bits  # layer 0's input bits (n, I)
        self._float_inputs = None  # (layer, its inputs as float32) during a rewiring pass
        x = bits
        for conn, table, k in zip(self.conn, self.table, self.k):
            weights = (1 << torch.arange(k, device=dev))
            addr = torch.zeros(len(x), conn.shape[0], dtype=torch.int16, device=dev)
            for j in range(k):  # one gather per input position, no (B, N, k) tensor
                addr += x[:, conn[:, j]].to(torch.int16) * int(weights[j])
            out = torch.empty(addr.shape, dtype=torch.bool, device=dev)
            for lo in range(0, conn.shape[0], 256):  # bounded (n, 256) int64 index
                hi = min(lo + 256, conn.shape[0])
                out[:, lo:hi] = table[lo:hi].gather(1, addr[:, lo:hi].long().T).T
            self.addr.append(addr.to(torch.uint8) if k <= 8 else addr)
            self.out.append(out)
            x = out
        self.classes = model.num_classes
        self.group = self.out[-1].shape[1] // self.classes
        self.labels = labels.to(dev)
        self.tau = tau
        self.scores = self.out[-1].view(len(x), self.classes, self.group).sum(-1).to(torch.float64)
        self.offset = self.group / tau  # the largest logit: exp(logit - offset) stays in range
        self.exp = torch.exp(self.scores / tau - self.offset)
        self.z = self.exp.sum(1)
        self.rows = torch.arange(len(x), device=dev)
        # readers[l][i]: (nodes, positions) of layer l + 1 that read node i of layer l
        self.readers = [self._readers(l) for l in range(len(self.conn) - 1)]

    def _readers(self, l: int):
        conn = self.conn[l + 1]
        flat = conn.flatten()
        order = torch.argsort(flat, stable=True)
        counts = torch.bincount(flat, minlength=self.table[l].shape[0])
        ptr = torch.zeros(len(counts) + 1, dtype=torch.long, device=flat.device)
        ptr[1:] = counts.cumsum(0)
        return order // conn.shape[1], order % conn.shape[1], ptr

    def loss(self) -> torch.Tensor:
        """Cross-entropy of scores / tau per sample (n,)."""
        y = self.scores[self.rows, self.labels]
        return torch.log(self.z) + self.offset - y / self.tau

    def accuracy(self) -> float:
        return 100.0 * (self.scores.argmax(1) == self.labels).double().mean().item()

    def toggle(self, layer: int, node: int):
        """Every sample's state with node ``node`` of ``layer`` outputting the opposite bit.

        Returns (updates, (classes, score delta (n, m))), or (updates, None) when nothing reads the node;
        updates are (layer, nodes, new addresses, new outputs) of the nodes whose value can change, in order."""
        nodes = torch.tensor([node], device=self.addr[0].device)
        new_out = ~self.out[layer][:, nodes]
        updates = [(layer, nodes, None, new_out)]
        toggled = torch.ones_like(new_out)
        for l in range(layer, len(self.conn) - 1):
            r_nodes, r_pos, ptr = self.readers[l]
            starts, counts = ptr[nodes], ptr[nodes + 1] - ptr[nodes]
            src = torch.repeat_interleave(torch.arange(len(nodes), device=ptr.device), counts)
            if src.numel() == 0:
                return updates, None
            first = torch.cumsum(counts, 0) - counts  # where each node's readers start in ``pick``
            pick = starts[src] + torch.arange(len(src), device=ptr.device) - first[src]
            readers, positions = r_nodes[pick], r_pos[pick]
            uniq, slot = torch.unique(readers, return_inverse=True)
            mask = torch.zeros(toggled.shape[0], len(uniq), dtype=torch.int16, device=ptr.device)
            mask.index_add_(1, slot, toggled[:, src].to(torch.int16) << positions.to(torch.int16))
            addr = self.addr[l + 1][:, uniq].to(torch.int16) ^ mask
            out = self.table[l + 1][uniq].gather(1, addr.long().T).T
            toggled = out != self.out[l + 1][:, uniq]
            updates.append((l + 1, uniq, addr, out))
            nodes = uniq
        last, nodes, _, out = updates[-1]
        change = out.to(torch.float64) - self.out[last][:, nodes].to(torch.float64)
        classes, slot = torch.unique(nodes // self.group, return_inverse=True)
        delta = torch.zeros(len(change), len(classes), dtype=torch.float64, device=change.device)
        delta.index_add_(1, slot, change)
        return updates, (classes, delta)

    def loss_change(self, classes: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """Per-sample loss change (n,) when the scores of ``classes`` (m,) move by ``delta`` (n, m)."""
        new_exp = torch.exp((self.scores[:, classes] + delta) / self.tau - self.offset)
        z = self.z + (new_exp - self.exp[:, classes]).sum(1)
        own = (delta * (self.labels.unsqueeze(1) == classes)).sum(1)
        return torch.log(z / self.z) - own / self.tau

    def commit(self, updates, classes: torch.Tensor, delta: torch.Tensor, samples: torch.Tensor) -> None:
        """Apply a toggle (of :meth:`toggle`) to the samples where ``samples`` (n,) is true."""
        keep = samples.unsqueeze(1)
        for l, nodes, addr, out in updates:
            self.out[l][:, nodes] = torch.where(keep, out, self.out[l][:, nodes])
            if addr is not None:
                old = self.addr[l][:, nodes].to(addr.dtype)
                self.addr[l][:, nodes] = torch.where(keep, addr, old).to(self.addr[l].dtype)
        self.scores[:, classes] += delta * keep
        new_exp = torch.exp(self.scores[:, classes] / self.tau - self.offset)
        self.z += (new_exp - self.exp[:, classes]).sum(1)
        self.exp[:, classes] = new_exp

    def end_layer_pass(self) -> None:
        """After a pass over one layer: drop that layer's float inputs, recompute the partition sum exactly
        (the commits update it incrementally)."""
        self._float_inputs = None
        self.z = self.exp.sum(1)

    def flip_entries(self, layer: int, node: int) -> int:
        """Flip every entry of the node's table whose flip lowers the loss; returns the number flipped."""
        updates, change = self.toggle(layer, node)
        if change is None:  # nothing reads this node
            return 0
        addr = self.addr[layer][:, node].long()
        gain = torch.zeros(self.table[layer].shape[1], dtype=torch.float64, device=addr.device)
        gain.index_add_(0, addr, self.loss_change(*change))
        flip = gain < 0
        if not bool(flip.any()):
            return 0
        self.table[layer][node] ^= flip
        self.commit(updates, *change, flip[addr])
        return int(flip.sum())

    def rewire(self, layer: int, node: int, position: int, chunk: int = 512) -> bool:
        """Give input ``position`` of the node the input (of all the layer's inputs, none the node already
        reads elsewhere) and table that lower the loss most; returns whether the wiring changed.

        With d = loss(output 1) - loss(output 0) per sample and the node's other inputs fixed, the best
        table for input i costs ``sum_a min(sum of d at address a, 0)``: for every i at once, the sums at the
        addresses with input i = 1 are one product ``inputs.T @ M`` (M: d placed at each sample's address
        without ``position``). The winner is checked exactly in float64 before it is applied."""
        updates, change = self.toggle(layer, node)
        if change is None:
            return False
        dl = self.loss_change(*change)
        out = self.out[layer][:, node]
        d = torch.where(out, -dl, dl)
        k = self.k[layer]
        addr = self.addr[layer][:, node].long()
        low = addr & ((1 << position) - 1)
        rest = addr >> (position + 1)
        reduced = low | (rest << position)  # the address without input ``position``, 0..2**(k-1)-1
        half = 1 << (k - 1)
        m = torch.zeros(len(d), half, dtype=torch.float32, device=d.device)
        m[self.rows, reduced] = d.to(torch.float32)
        inputs = self.inputs if layer == 0 else self.out[layer - 1]
        if self._float_inputs is None or self._float_inputs[0] != layer:  # valid for the layer's whole pass:
            self._float_inputs = (layer, inputs.to(torch.float32))     # a pass changes layers >= its own only
        floats = self._float_inputs[1]
        total = m.sum(0)
        cost = torch.empty(inputs.shape[1], dtype=torch.float32, device=d.device)
        for lo in range(0, inputs.shape[1], chunk):
            ones = floats[:, lo:lo + chunk].T @ m  # (chunk, half)
            cost[lo:lo + chunk] = ones.clamp(max=0).sum(1) + (total - ones).clamp(max=0).sum(1)
        others = torch.cat([self.conn[layer][node, :position], self.conn[layer][node, position + 1:]])
        cost[others] = float("inf")
        best = int(cost.argmin())
        if best == int(self.conn[layer][node, position]):
            return False
        new_addr = low | (inputs[:, best].long() << position) | (rest << (position + 1))
        sums = torch.zeros(1 << k, dtype=torch.float64, device=d.device).index_add_(0, new_addr, d)
        reached = torch.zeros(1 << k, dtype=torch.bool, device=d.device)
        reached[new_addr] = True
        table = torch.where(reached, sums < 0, self.table[layer][node])
        now = d[out].sum()
        if not bool(sums.clamp(max=0).sum() < now - 1e-9):  # not an exact improvement
            return False
        new_out = table[new_addr]
        self.commit(updates, *change, new_out != out)
        self.table[layer][node] = table
        self.addr[layer][:, node] = new_addr.to(self.addr[layer].dtype)
        self.conn[layer][node, position] = best
        if layer > 0:
            self.readers[layer - 1] = self._readers(layer - 1)
        return True


def _shifted_bits(model, images: torch.Tensor, max_shift: int, batch_size: int) -> torch.Tensor:
    shifts = [(dy, dx) for dy in range(-max_shift, max_shift + 1) for dx in range(-max_shift, max_shift + 1)]
    select = model.stages()[0] if isinstance(model.stages()[0], BitSelect) else None
    parts = []
    with model._eval_mode():
        for dy, dx in shifts:
            for chunk in images.split(batch_size):
                bits = model.encode(shift_images(model.to_codes(chunk), dy, dx))
                parts.append((select(bits) if select is not None else bits).bool())
    return torch.cat(parts)


def _write_back(layers, state: _State, rewired_layers: set) -> None:
    """Put the state's tables (and the connections of ``rewired_layers``) into the model, read back."""
    for l, (layer, table) in enumerate(zip(layers, state.table)):
        layer.node.set_truth_table_(table.cpu())
        if l in rewired_layers:
            layer.set_connections_(state.conn[l].to(layer.connections().device))
            if not torch.equal(layer.connections().cpu(), state.conn[l].cpu()):
                raise RuntimeError(f"refine_tables: {type(layer).__name__} did not take the new connections")


def sweep_line(entry: dict) -> str:
    """One line describing a sweep's entry of :class:`RefineReport` (``refine_tables(on_sweep=...)``)."""
    moves = f", inputs rewired per layer {entry['rewired']}" if "rewired" in entry else ""
    return (f"sweep {entry['sweep']}: flips per layer {entry['flips']}{moves}, loss {entry['loss']:.4f}, "
            f"accuracy {entry['accuracy']:.2f}% on the refinement samples ({entry['seconds']:.1f} s)")


@torch.no_grad()
def refine_tables(model, images, labels, *, max_shift: int = 1, sweeps: int = 1, tau: float | None = None,
                  rewire: bool = False, batch_size: int = 4096,
                  on_sweep: Callable[[dict], None] | None = None) -> RefineReport:
    """Refine ``model``'s truth tables in place on training ``images`` (B, *input_shape) and ``labels`` (B,).

    ``max_shift``: the samples are every image at every shift (dy, dx) in ``-max_shift..max_shift``
    (zero-filled), ``(2 max_shift + 1)**2`` copies; ``sweeps``: passes over all nodes (a sweep with no
    flip ends early); ``tau``: the cross-entropy's temperature (default the model's GroupSum tau);
    ``rewire``: after a node's table, re-choose each of its inputs too (random and learnable layers; see
    :meth:`_State.rewire`: one matrix product over all the layer's inputs per input slot, for the GPU at
    full data size). The model holds the refined tables after every sweep, when ``on_sweep(entry)`` is called
    with that sweep's entry of the report (``sweep``, ``flips`` per layer, ``rewired`` per layer with rewiring,
    mean ``loss`` and ``accuracy`` on the samples, ``seconds``), e.g. to evaluate it. Runs on the model's
    device; the model is left in eval mode. Returns a :class:`RefineReport`.
    """
    max_shift = check_max_shift(max_shift)
    if not isinstance(sweeps, int) or isinstance(sweeps, bool) or sweeps < 1:
        raise ValueError(f"sweeps must be a positive int, got {sweeps!r}")
    layers = refinable_layers(model)
    tau = float(model.head.tau if tau is None else tau)
    if not tau > 0 or not math.isfinite(tau):
        raise ValueError(f"tau must be a positive number, got {tau!r}")
    labels = torch.as_tensor(labels, dtype=torch.long)
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"refine_tables needs as many labels as images (at least one), got {len(images)} "
                         f"images and {len(labels)} labels")
    for layer in layers:
        layer.node.check_table_writable()
    model.eval()
    bits = _shifted_bits(model, images, max_shift, batch_size)
    copies = (2 * max_shift + 1) ** 2
    state = _State(model, layers, bits, labels.to(bits.device).repeat(copies), tau)
    del bits
    report = RefineReport(samples=len(state.labels), tau=tau, max_shift=max_shift, rewire=rewire,
                          before=dict(loss=state.loss().mean().item(), accuracy=state.accuracy()))
    rewirable = {l for l, layer in enumerate(layers) if rewire and type(layer) in (RandomLayer, LearnableLayer)}
    for sweep in range(1, sweeps + 1):
        start = time.perf_counter()
        flips, rewired = [], []
        for l in reversed(range(len(layers))):
            count = moved = 0
            for n in range(state.table[l].shape[0]):
                count += state.flip_entries(l, n)
                if l in rewirable:
                    moved += sum(state.rewire(l, n, p) for p in range(state.k[l]))
            flips.insert(0, count)
            rewired.insert(0, moved)
            state.end_layer_pass()
        _write_back(layers, state, rewirable)
        entry = dict(sweep=sweep, flips=flips, loss=state.loss().mean().item(), accuracy=state.accuracy())
        if rewire:
            entry["rewired"] = rewired
        entry["seconds"] = time.perf_counter() - start
        report.sweeps.append(entry)
        if on_sweep is not None:
            on_sweep(entry)
        if not any(flips) and not any(rewired):
            break
    return report
