"""The contract every LUT node type implements.

A node module holds ``num_nodes`` independent k-input nodes with parameters
shaped ``(num_nodes, ...)``; all of them are evaluated by one tensor op.

Shapes: ``forward(x)`` takes ``x`` of shape ``(B, num_nodes, k)`` (node n reads
``x[:, n, :]``, input j = address bit j) and returns ``(B, num_nodes)``.

Training mode: inputs are soft bits in [0, 1] (or hard bits); the output and its
gradient follow the node's paper (see each subclass).

Eval mode (the hardware function): inputs must be exactly 0 or 1, anything else
raises. The output is ``truth_table()[n, address(x[b, n])]`` as 0./1. in the
input's dtype. ``truth_table()`` is each node's *hard decision* evaluated on all
``2**k`` corners, computed on a float64 CPU copy of the node, so the table (and
so eval mode on every device, and every hardware backend) does not depend on the
device or on the floating-point order of a batched computation.
For nodes decided by a score the rule is ``score >= 0`` on :meth:`corner_scores`.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..bits import address, check_k, corners
from .wiring import gather


class BaseNode(nn.Module):
    registry_name = "base"
    #: the k this node type supports (None: any k in 1..MAX_K)
    supported_k: tuple[int, ...] | None = None
    #: training runs DiffLUT's CUDA kernels (difflut.kernels) on float32 CUDA tensors
    uses_cuda_kernels: bool = False

    def __init__(self, num_nodes: int, k: int):
        super().__init__()
        if not isinstance(num_nodes, int) or isinstance(num_nodes, bool) or num_nodes < 1:
            raise ValueError(f"num_nodes must be a positive int, got {num_nodes!r}")
        self.num_nodes = num_nodes
        self.k = check_k(k)
        if self.supported_k is not None and self.k not in self.supported_k:
            raise ValueError(f"{type(self).__name__} supports k in {self.supported_k}, got k={k}")
        self._table_cache: torch.Tensor | None = None
        self._table_key: tuple | None = None

    # -- to implement -------------------------------------------------------
    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Training-mode output for soft inputs x (B, num_nodes, k) -> (B, num_nodes)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement train_forward")

    def corner_scores(self) -> torch.Tensor:
        """Differentiable real scores on every corner, (num_nodes, 2**k); hard decision is ``>= 0``.

        Also what the table regularisers (l1, l2, spectral) act on.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement corner_scores")

    def hard_table(self) -> torch.Tensor:
        """The hard decision on every corner, bool (num_nodes, 2**k). Override if not ``score >= 0``."""
        return self.corner_scores() >= 0

    def residual_init_(self, input_index: int = 0) -> None:
        """Re-initialise every node as a pass-through of its input ``input_index``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement residual_init_")

    # -- shared machinery ---------------------------------------------------
    def check_input_index(self, input_index: int) -> int:
        """Validate an input index (0..k-1) for :meth:`residual_init_`."""
        if not isinstance(input_index, int) or isinstance(input_index, bool) or not 0 <= input_index < self.k:
            raise ValueError(f"input_index must be an int in 0..{self.k - 1}, got {input_index!r}")
        return input_index

    def forward(self, x: torch.Tensor, wiring=None) -> torch.Tensor:
        """x (B, num_nodes, k) -> (B, num_nodes); with ``wiring`` (:class:`difflut.nodes.wiring.Wiring`), x is a
        layer's input (B, M) and node n's input j is ``x[:, wiring.index[n, j]]``."""
        if wiring is not None:
            if self.training:
                return self.wired_train_forward(x, wiring)
            x = gather(x, wiring)
        self._check_shape(x)
        if self.training:
            return self.train_forward(x)
        return self.eval_forward(x)

    def wired_train_forward(self, x: torch.Tensor, wiring) -> torch.Tensor:
        """Training forward of the nodes reading ``x`` (B, M) through ``wiring``: ``train_forward`` of the
        gathered inputs. Nodes with a kernel that reads the wiring itself (the DWN nodes) override it
        with the same values."""
        x = gather(x, wiring)
        self._check_shape(x)
        return self.train_forward(x)

    def eval_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The hardware function: a lookup of binary inputs in :meth:`truth_table`."""
        self._check_shape(x)
        if not bool(((x == 0) | (x == 1)).all()):
            bad = x[(x != 0) & (x != 1)]
            raise ValueError(
                f"{type(self).__name__} in eval mode takes binary inputs (0 or 1); "
                f"got {bad.numel()} other value(s), e.g. {bad.flatten()[0].item()!r}"
            )
        table = self.truth_table().to(device=x.device)
        flat = torch.arange(self.num_nodes, device=x.device) * (1 << self.k) + address(x)
        return table.flatten()[flat].to(x.dtype)

    def truth_table(self) -> torch.Tensor:
        """Bool (num_nodes, 2**k): entry [n, a] is node n's output at address a (input j = bit j).

        Cached until a parameter or buffer changes (in place or replaced) or the mode changes
        (:meth:`train` / ``eval()``, which every evaluation calls): fused optimizers and CUDA-graph replays
        write parameters without bumping their version counters, so the version alone cannot tell.
        """
        key = self._state_key()
        if self._table_cache is None or key != self._table_key:
            self._table_cache = None
            reference = copy.deepcopy(self).to(device="cpu", dtype=torch.float64)
            with torch.no_grad():
                table = reference.hard_table()
            expected = (self.num_nodes, 1 << self.k)
            if table.dtype != torch.bool or tuple(table.shape) != expected:
                raise RuntimeError(
                    f"{type(self).__name__}.hard_table returned {table.dtype} {tuple(table.shape)}, "
                    f"expected bool {expected}"
                )
            self._table_cache = table.contiguous()
            self._table_key = key
        return self._table_cache

    def check_table_writable(self) -> None:
        """Raise ValueError unless :meth:`set_truth_table_` can write this node type's tables: its hard
        decision must be ``score >= 0`` on :meth:`corner_scores`, and those scores a parameter."""
        scores = self.corner_scores()
        writable = type(self).hard_table is BaseNode.hard_table and any(scores is p for p in self.parameters())
        if not writable:
            raise ValueError(f"{type(self).__name__} tables cannot be written: its hard decision is not the sign "
                             f"of a score parameter")

    def set_truth_table_(self, table: torch.Tensor) -> None:
        """Make :meth:`truth_table` equal ``table`` (bool (num_nodes, 2**k)) by setting the sign of each
        corner score (its magnitude kept; a zero score that must become 0 turns to -1e-6)."""
        self.check_table_writable()
        expected = (self.num_nodes, 1 << self.k)
        if not isinstance(table, torch.Tensor) or table.dtype != torch.bool or tuple(table.shape) != expected:
            raise ValueError(f"set_truth_table_ takes a bool tensor of shape {expected}, got "
                             f"{getattr(table, 'dtype', type(table).__name__)} {tuple(getattr(table, 'shape', ()))}")
        scores = self.corner_scores()
        with torch.no_grad():
            magnitude = scores.abs()
            target = table.to(scores.device)
            scores.copy_(torch.where(target, magnitude, -magnitude.clamp_min(1e-6)))
        if not torch.equal(self.truth_table(), table.cpu()):
            raise RuntimeError(f"{type(self).__name__}.set_truth_table_: the written scores do not give the table")

    def corners(self, dtype=None) -> torch.Tensor:
        """All 2**k binary inputs (2**k, k) on this node's device (see :func:`difflut.bits.corners`)."""
        ref = next(iter(self.parameters()), None)
        return corners(
            self.k,
            dtype=dtype or (ref.dtype if ref is not None else torch.float32),
            device=ref.device if ref is not None else None,
        )

    def train(self, mode: bool = True) -> "BaseNode":
        """Set the mode (as :meth:`torch.nn.Module.train`) and drop the cached :meth:`truth_table`."""
        self._table_cache = None
        return super().train(mode)

    def _state_key(self) -> tuple:
        tensors = list(self.parameters()) + list(self.buffers())
        return tuple((t.data_ptr(), t._version, t.dtype, str(t.device), tuple(t.shape)) for t in tensors)

    def _check_shape(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__} expects a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 3 or x.shape[1] != self.num_nodes or x.shape[2] != self.k:
            raise ValueError(
                f"{type(self).__name__} expects input of shape (batch, {self.num_nodes}, {self.k}), "
                f"got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise TypeError(f"{type(self).__name__} expects a floating-point input, got {x.dtype}")

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_table_cache"] = None
        state["_table_key"] = None
        return state

    def extra_repr(self) -> str:
        return f"num_nodes={self.num_nodes}, k={self.k}"
