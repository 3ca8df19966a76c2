"""Function-preserving passes on a :class:`~difflut.hw.ir.NetlistIR`.

Every pass maps an IR to ``(new_ir, report)``: the new IR computes the same class scores (so the
same prediction) as the old one on every input code, and ``report`` is a dict of counts. Passes are
deterministic (same IR in, same IR out) and never change the encoder stage, the input shape, the
number of classes, the group size G or the metadata.

* :func:`fold_constants`: encoder bits and LUTs whose value does not depend on the input become
  constants; readers of a constant read :data:`CONST0` / :data:`CONST1` instead and LUT readers
  have their tables *specialised* (the input is then fixed at CONST0, table canonical).
* :func:`prune_inputs`: an input a table does not depend on (or a repeated read of the same wire)
  is replaced by CONST0 and the table made canonical; an input column that is CONST0 in every node
  of a layer is dropped (the layer's k shrinks).
* :func:`collapse_identities`: a LUT equal to one of its inputs is bypassed (readers, class wires
  included, read that input); a LUT equal to the inverse of an input is absorbed into its LUT
  readers' tables. Class wires keep reading inverters: a popcount needs the true polarity.
* :func:`merge_duplicates`: each node's inputs are sorted (table permuted to match); nodes of a layer
  with the same inputs and table are merged (common subexpressions): readers, class wires included,
  read the first of them.
* :func:`remove_dead`: LUTs that no class wire reaches are deleted, LUT wires renumbered compactly
  (in their old order), empty layers dropped.
* :func:`optimize`: all five to a fixed point.

Canonical table: for an input j fixed at CONST0, the rows with address bit j set equal the
bit-clear rows, ``T[a | 2**j] == T[a & ~2**j]``; the table then does not depend on bit j at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ir import CONST0, CONST1, LUTLayer, NetlistIR

__all__ = ["collapse_identities", "fold_constants", "merge_duplicates", "optimize", "prune_inputs", "remove_dead",
           "same_netlist"]

PASS_NAMES = ("fold_constants", "prune_inputs", "collapse_identities", "merge_duplicates", "remove_dead")


# -- a mutable working copy -------------------------------------------------------------------------------
@dataclass
class _Net:
    """Writable copies of an IR's layers: ``inputs[i]`` int64 (N_i, k_i), ``tables[i]`` bool (N_i, 2**k_i)."""

    ir: NetlistIR
    names: list[str]
    inputs: list[np.ndarray]
    tables: list[np.ndarray]
    class_wires: np.ndarray

    @classmethod
    def of(cls, ir: NetlistIR) -> "_Net":
        return cls(ir, [layer.name for layer in ir.layers], [layer.inputs.copy() for layer in ir.layers],
                   [layer.tables.copy() for layer in ir.layers], ir.class_wires.copy())

    def build(self) -> NetlistIR:
        layers = tuple(LUTLayer(n, i, t) for n, i, t in zip(self.names, self.inputs, self.tables) if len(i))
        return NetlistIR(self.ir.input_shape, self.ir.encoder, layers, self.class_wires, self.ir.metadata)


def _addresses(k: int) -> np.ndarray:
    return np.arange(1 << k, dtype=np.int64)


def _bit_patterns(k: int) -> np.ndarray:
    """bool (k, 2**k): row j is address bit j of every address (the table of 'output = input j')."""
    return (_addresses(k)[None, :] >> np.arange(k)[:, None]) & 1 == 1


def _fix_input(tables: np.ndarray, rows: np.ndarray, j: int, value: int) -> int:
    """Specialise ``tables[rows]`` for input j held at ``value``: ``T'[a] = T[a with bit j := value]``.

    In place; returns how many of the rows changed.
    """
    if rows.size == 0:
        return 0
    a = _addresses(tables.shape[1].bit_length() - 1)
    source = (a & ~(1 << j)) | (value << j)
    new = tables[rows][:, source]
    changed = int((new != tables[rows]).any(1).sum())
    tables[rows] = new
    return changed


def _flip_input(tables: np.ndarray, rows: np.ndarray, j: int) -> None:
    """In place: ``T'[a] = T[a ^ 2**j]`` for ``rows`` (absorbs an inverter on input j)."""
    if rows.size:
        a = _addresses(tables.shape[1].bit_length() - 1)
        tables[rows] = tables[rows][:, a ^ (1 << j)]


def _merge_reports(total: dict, report: dict) -> None:
    for key, value in report.items():
        total[key] = total.get(key, 0) + value


# -- constant folding ---------------------------------------------------------------------------------------
def fold_constants(ir: NetlistIR) -> tuple[NetlistIR, dict]:
    """Replace reads of constant wires by CONST0/CONST1 and specialise the readers' tables.

    A wire is constant when it is an encoder bit equal on every input code, or a LUT whose table
    (after specialising its own constant inputs) is all 0 or all 1. Every LUT input at CONST1 is
    specialised away (the input becomes CONST0), every CONST0 input's table made canonical.
    Report: ``constant_luts`` (LUTs found constant; encoder bits are not counted), ``inputs_folded``
    (LUT input slots turned from a wire into a constant), ``class_wires_folded``,
    ``tables_specialised`` ((node, input) specialisations or canonicalisations that changed a table).
    """
    net = _Net.of(ir)
    known = np.full(ir.num_wires, -1, dtype=np.int8)  # -1 unknown, else the constant value
    enc = ir.encoder.tables.reshape(ir.num_encoder_wires, -1)
    known[: ir.num_encoder_wires] = np.where(enc.all(1), 1, np.where(~enc.any(1), 0, -1))
    report = {"constant_luts": 0, "inputs_folded": 0, "class_wires_folded": 0,
              "tables_specialised": 0}
    for inputs, tables, base in zip(net.inputs, net.tables, ir.layer_bases):
        report["inputs_folded"] += _replace_constants(inputs, known)
        for j in range(inputs.shape[1]):
            ones = np.flatnonzero(inputs[:, j] == CONST1)
            report["tables_specialised"] += _fix_input(tables, ones, j, 1)
            inputs[ones, j] = CONST0
            report["tables_specialised"] += _fix_input(tables, np.flatnonzero(inputs[:, j] == CONST0), j, 0)
        constant = tables.all(1) | ~tables.any(1)
        known[base : base + len(tables)] = np.where(constant, tables[:, 0], -1)
        report["constant_luts"] += int(constant.sum())
    report["class_wires_folded"] = _replace_constants(net.class_wires, known)
    return net.build(), report


def _replace_constants(wires: np.ndarray, known: np.ndarray) -> int:
    """In place: wire ids whose ``known`` value is 0/1 -> CONST0/CONST1; returns how many."""
    real = wires >= 0
    value = np.full(wires.shape, -1, dtype=np.int8)
    value[real] = known[wires[real]]
    wires[value == 0] = CONST0
    wires[value == 1] = CONST1
    return int((value >= 0).sum())


# -- input pruning ------------------------------------------------------------------------------------------
def depends_on(tables: np.ndarray) -> np.ndarray:
    """bool (N, k): whether table n (N, 2**k) depends on input j, ``T[a] != T[a ^ 2**j]`` for some a."""
    k = tables.shape[1].bit_length() - 1
    a = _addresses(k)
    return np.stack([(tables != tables[:, a ^ (1 << j)]).any(1) for j in range(k)], axis=1)


def prune_inputs(ir: NetlistIR) -> tuple[NetlistIR, dict]:
    """Disconnect inputs a table ignores, merge repeated inputs, drop all-CONST0 input columns.

    Per node: an input j that reads the same wire as an earlier input i is merged
    (``T'[a] = T[a with bit j := bit i]``); then every input the table does not depend on is set to
    CONST0; every CONST0 input's table is made canonical. Per layer: an input column at CONST0 in
    every node is removed (tables keep their bit-clear rows), keeping k >= 1.
    Report: ``inputs_pruned``, ``duplicate_inputs_merged``, ``columns_dropped``.
    """
    net = _Net.of(ir)
    report = {"inputs_pruned": 0, "duplicate_inputs_merged": 0, "columns_dropped": 0}
    for index, (inputs, tables) in enumerate(zip(net.inputs, net.tables)):
        k = inputs.shape[1]
        a = _addresses(k)
        for j in range(1, k):
            for i in range(j):
                rows = np.flatnonzero((inputs[:, j] == inputs[:, i]) & (inputs[:, j] >= 0))
                if rows.size:
                    # input j := input i: address bit j takes the value of bit i
                    tables[rows] = tables[rows][:, (a & ~(1 << j)) | (((a >> i) & 1) << j)]
                    inputs[rows, j] = CONST0
                    report["duplicate_inputs_merged"] += rows.size
        unused = ~depends_on(tables) & (inputs != CONST0)
        report["inputs_pruned"] += int(unused.sum())
        inputs[unused] = CONST0
        for j in range(k):
            _fix_input(tables, np.flatnonzero(inputs[:, j] == CONST0), j, 0)
        keep = (inputs != CONST0).any(0)
        if not keep.any():
            keep[0] = True
        if not keep.all():
            dropped = np.flatnonzero(~keep)
            clear = (a & int(sum(1 << int(j) for j in dropped))) == 0  # addresses with every dropped bit 0
            net.inputs[index] = inputs[:, keep]
            net.tables[index] = tables[:, clear]  # remaining bits keep their order, so rows stay aligned
            report["columns_dropped"] += dropped.size
    return net.build(), report


# -- identities and inverters -------------------------------------------------------------------------------
def collapse_identities(ir: NetlistIR) -> tuple[NetlistIR, dict]:
    """Bypass LUTs equal to one of their inputs, absorb inverters into LUT readers.

    Layers are visited in order with a substitution ``wire -> (source, inverted)``: each layer's
    inputs are rewritten through it first (an inverted source flips the reader's table along that
    input), then its own identity LUTs (table = address bit j) map to ``(input j, False)`` and its
    inverters (table = NOT bit j) to ``(input j, True)``. Class wires follow only non-inverted
    substitutions. Bypassed LUTs stay in place (no reader left; :func:`remove_dead` deletes them).
    Report: ``identity_reads`` / ``inverter_reads`` (reads rewired past an identity / inverter,
    class wires included), ``luts_bypassed`` (LUTs that lost at least one reader).
    """
    net = _Net.of(ir)
    source = np.arange(ir.num_wires, dtype=np.int64)
    inverted = np.zeros(ir.num_wires, dtype=bool)
    bypassed = np.zeros(ir.num_wires, dtype=bool)
    report = {"identity_reads": 0, "inverter_reads": 0, "luts_bypassed": 0}
    for inputs, tables, base in zip(net.inputs, net.tables, ir.layer_bases):
        real = inputs >= 0
        old = inputs[real]
        moved = source[old] != old
        flip = np.zeros(inputs.shape, dtype=bool)
        flip[real] = inverted[old]
        report["identity_reads"] += int((moved & ~inverted[old]).sum())
        report["inverter_reads"] += int(inverted[old].sum())
        bypassed[old[moved]] = True
        inputs[real] = source[old]
        for j in range(inputs.shape[1]):
            _flip_input(tables, np.flatnonzero(flip[:, j]), j)
        patterns = _bit_patterns(inputs.shape[1])
        identity = np.stack([(tables == p).all(1) for p in patterns], axis=1)  # (N, k)
        inverter = np.stack([(tables != p).all(1) for p in patterns], axis=1)
        for hits, inv in ((identity, False), (inverter, True)):
            rows, cols = np.nonzero(hits)  # at most one hit per row: the patterns differ pairwise
            target = inputs[rows, cols]
            # an inverted constant is the other constant
            const = target < 0
            target = np.where(const & inv, CONST0 + CONST1 - target, target)
            wires = base + rows
            source[wires] = target
            inverted[wires] = inv & ~const
    real = net.class_wires >= 0
    old = net.class_wires[real]
    follow = ~inverted[old] & (source[old] != old)
    report["identity_reads"] += int(follow.sum())
    bypassed[old[follow]] = True
    net.class_wires[real] = np.where(follow, source[old], old)
    report["luts_bypassed"] = int(bypassed[ir.num_encoder_wires:].sum())
    return net.build(), report


# -- common subexpressions ---------------------------------------------------------------------------------
def sort_inputs(inputs: np.ndarray, tables: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's inputs in ascending order (stable), its table permuted to match: new input j is old
    input ``perm[j]``, so ``T'[a] = T[sum_j bit_j(a) * 2**perm[j]]``. Shapes as given: (N, k), (N, 2**k)."""
    k = inputs.shape[1]
    perm = np.argsort(inputs, axis=1, kind="stable")
    old_address = ((_bit_patterns(k)[None, :, :].astype(np.int64)) << perm[:, :, None]).sum(1)  # (N, 2**k)
    return np.take_along_axis(inputs, perm, axis=1), np.take_along_axis(tables, old_address, axis=1)


def merge_duplicates(ir: NetlistIR) -> tuple[NetlistIR, dict]:
    """Merge the nodes of a layer that compute the same function of the same wires (equal after sorting
    their inputs, tables permuted to match): their readers (later layers' inputs, class wires) read the
    first one. Nodes keep their own input order and table, so an IR without duplicates is unchanged.

    Layers are visited in order, each layer's inputs rewritten through the merges before it, so
    chains of duplicates collapse in one run. Merged nodes stay in place with no reader
    (:func:`remove_dead` deletes them). Report: ``luts_merged`` (nodes that now have a twin read in
    their place).
    """
    net = _Net.of(ir)
    source = np.arange(ir.num_wires, dtype=np.int64)
    report = {"luts_merged": 0}
    for index, base in enumerate(ir.layer_bases):
        inputs, tables = net.inputs[index], net.tables[index]
        real = inputs >= 0
        inputs[real] = source[inputs[real]]
        canonical_inputs, canonical_tables = sort_inputs(inputs, tables)
        key = np.concatenate([canonical_inputs, canonical_tables.astype(np.int64)], axis=1)
        _, first, group = np.unique(key, axis=0, return_index=True, return_inverse=True)
        rep = first[group.reshape(-1)]
        report["luts_merged"] += int((rep != np.arange(len(rep))).sum())
        source[base : base + len(rep)] = base + rep
    real = net.class_wires >= 0
    net.class_wires[real] = source[net.class_wires[real]]
    return net.build(), report


# -- dead nodes ---------------------------------------------------------------------------------------------
def live_wires(ir: NetlistIR) -> np.ndarray:
    """bool (num_wires,): wires some class wire reaches (through LUT inputs)."""
    live = np.zeros(ir.num_wires, dtype=bool)
    cw = ir.class_wires[ir.class_wires >= 0]
    live[cw] = True
    for layer, base in reversed(list(zip(ir.layers, ir.layer_bases))):
        read = layer.inputs[live[base : base + layer.num_nodes]]
        live[read[read >= 0]] = True
    return live


def remove_dead(ir: NetlistIR) -> tuple[NetlistIR, dict]:
    """Delete LUTs no class wire reaches; renumber LUT wires compactly, drop empty layers.

    Encoder wires keep their ids; surviving LUTs keep their relative order.
    Report: ``luts_removed``, ``layers_removed``.
    """
    live = live_wires(ir)
    live[: ir.num_encoder_wires] = True
    new_id = np.cumsum(live) - 1  # id of each surviving wire
    net = _Net.of(ir)
    for index, base in enumerate(ir.layer_bases):
        alive = live[base : base + len(net.inputs[index])]
        inputs = net.inputs[index][alive]
        real = inputs >= 0
        inputs[real] = new_id[inputs[real]]
        net.inputs[index], net.tables[index] = inputs, net.tables[index][alive]
    real = net.class_wires >= 0
    net.class_wires[real] = new_id[net.class_wires[real]]
    out = net.build()
    return out, {"luts_removed": ir.num_luts - out.num_luts, "layers_removed": len(ir.layers) - len(out.layers)}


# -- everything ---------------------------------------------------------------------------------------------
def same_netlist(a: NetlistIR, b: NetlistIR) -> bool:
    """Whether two IRs have the same layers (names, inputs, tables) and class wires."""
    return (len(a.layers) == len(b.layers) and np.array_equal(a.class_wires, b.class_wires)
            and all(x.name == y.name and np.array_equal(x.inputs, y.inputs) and np.array_equal(x.tables, y.tables)
                    for x, y in zip(a.layers, b.layers)))


def optimize(ir: NetlistIR, max_iterations: int = 64) -> tuple[NetlistIR, dict]:
    """Run the five passes in order until none changes the IR.

    Report: ``luts_before``, ``luts_after``, ``layers_before``, ``layers_after``, ``iterations`` and,
    per pass name, the sum of its reports over all iterations.
    """
    report: dict = {"luts_before": ir.num_luts, "layers_before": len(ir.layers)}
    per_pass: dict[str, dict] = {name: {} for name in PASS_NAMES}
    passes = (fold_constants, prune_inputs, collapse_identities, merge_duplicates, remove_dead)
    for iteration in range(1, max_iterations + 1):
        before = ir
        for name, run in zip(PASS_NAMES, passes):
            ir, r = run(ir)
            _merge_reports(per_pass[name], r)
        if same_netlist(before, ir):
            break
    else:
        raise RuntimeError(f"optimize did not reach a fixed point in {max_iterations} iterations")
    report.update(per_pass, luts_after=ir.num_luts, layers_after=len(ir.layers), iterations=iteration)
    return ir, report
