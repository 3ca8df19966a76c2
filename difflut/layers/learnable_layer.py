"""LearnableLayer: LUT nodes whose input wiring is learned (DWN's learnable mapping)."""

from __future__ import annotations

import torch
from torch import nn

from .. import kernels
from ..errors import InputError
from ..nodes.efd import efd_input_factors, efd_kernel_backward
from ..registry import register_layer
from .base import BaseLUTLayer, check_positive_int
from .random_layer import check_connections

SELECTIONS = ("hard", "soft")


class HardSelect(torch.autograd.Function):
    """Straight-through input selection of DWN's learnable mapping (Bacellar et al., 2024).

    forward(x (B, I), logits (M, I), tau, binary) -> (B, M): ``y[:, m] = x[:, logits[m].argmax()]``
    (ties -> lowest index), exactly the eval-mode wiring. Backward, upstream ``g`` (B, M):
    ``dL/dlogits = g.T @ x`` (the gradient of the linear selection ``x @ logits.T``; ``binary``: x is
    0/1, which the CUDA product uses) and ``dL/dx = g @ softmax(logits / tau, dim=-1)``.
    """

    @staticmethod
    def forward(ctx, x, logits, tau, binary):
        index = logits.argmax(-1)
        ctx.save_for_backward(x, logits)
        ctx.tau, ctx.binary = tau, binary
        return x.index_select(1, index)

    @staticmethod
    def backward(ctx, grad):
        x, logits = ctx.saved_tensors
        grad_x, grad_logits = selection_grads(grad, x, logits, ctx.tau, ctx.binary, *ctx.needs_input_grad[:2])
        return grad_x, grad_logits, None, None


def selection_grads(grad, x, logits, tau, binary, need_x, need_logits):
    """:class:`HardSelect`'s backward: upstream ``grad`` (B, M), ``x`` (B, I), ``logits`` (M, I) ->
    ``(dL/dx or None, dL/dlogits or None)``."""
    grad_x = grad_logits = None
    if need_x:
        grad_x = grad @ torch.softmax(logits / tau, dim=-1).to(grad.dtype)
    if need_logits:
        if grad.is_cuda and grad.dtype == torch.float32 and x.dtype == torch.float32 and _mm_out_dtype_works():
            grad_logits = split_tn(grad, x, b_binary=binary).to(logits.dtype)
        else:
            grad_logits = (grad.T @ x.to(grad.dtype)).to(logits.dtype)
    return grad_x, grad_logits


class SelectedEFDLookup(torch.autograd.Function):
    """:class:`HardSelect` then the DWN nodes' :class:`~difflut.nodes.efd.EFDLookup` in one (CUDA kernels),
    without forming the (B, N, k) selected inputs: the selection ``logits.argmax(-1)`` is the wiring of the
    wired forward kernel.

    forward(x (B, I) float32 CUDA, logits (N * k, I), table (N, 2**k), tau, binary, weighting, hard,
    grad_scale) -> (B, N): the values of ``EFDLookup(HardSelect(x, logits).view(B, N, k), table, ...)``.
    Backward: the same node-input gradient (the unwired EFD kernel), then :func:`selection_grads`; so the
    same gradients (the table's up to the order of its sums). For a 0/1 ``x`` that needs no gradient (the
    encoder's bits): :func:`binary_logits_grad`, the same product from float16 parts written by the EFD kernel.
    """

    @staticmethod
    def forward(ctx, x, logits, table, tau, binary, weighting, hard, grad_scale):
        nodes, size = table.shape
        columns = logits.argmax(-1).view(nodes, -1).T.to(torch.int32).contiguous()
        out, address = kernels.efd_extension().wired_forward(x.contiguous(), columns, table.contiguous(), hard)
        ctx.save_for_backward(x, logits, table, address)
        ctx.tau, ctx.binary, ctx.weighting, ctx.grad_scale = tau, binary, weighting, grad_scale
        return out

    @staticmethod
    def backward(ctx, grad):
        x, logits, table, address = ctx.saved_tensors
        need_x, need_logits, need_table = ctx.needs_input_grad[:3]
        if ctx.binary and need_logits and not need_x:  # the first layer, reading the encoder's bits
            _, grad_table = efd_kernel_backward(grad, address, table, ctx.weighting, ctx.grad_scale, False,
                                                need_table)
            grad_logits = binary_logits_grad(grad, address, table, ctx.weighting, ctx.grad_scale, x)
            return None, grad_logits.to(logits.dtype), grad_table, None, None, None, None, None
        need_slots = need_x or need_logits
        slots, grad_table = efd_kernel_backward(grad, address, table, ctx.weighting, ctx.grad_scale, need_slots,
                                                need_table)
        grad_x = grad_logits = None
        if need_slots:
            grad_x, grad_logits = selection_grads(slots.view(len(x), -1), x, logits, ctx.tau, ctx.binary,
                                                  need_x, need_logits)
        return grad_x, grad_logits, grad_table, None, None, None, None, None


def _runs_forward_hooks(module: nn.Module) -> bool:
    """Whether calling ``module`` runs forward (pre-)hooks: its own or global ones."""
    from torch.nn.modules import module as torch_module

    return bool(module._forward_hooks or module._forward_pre_hooks or torch_module._global_forward_hooks
                or torch_module._global_forward_pre_hooks)


_MM_OUT_DTYPE: list[bool] = []


def _mm_out_dtype_works() -> bool:
    """Whether this torch has ``torch.mm(..., out_dtype=torch.float32)`` for bfloat16 and float16 CUDA operands
    (probed once)."""
    if not _MM_OUT_DTYPE:
        try:
            ok = True
            for dtype in (torch.bfloat16, torch.float16):
                one = torch.ones(1, 1, dtype=dtype, device="cuda")
                ok = ok and torch.mm(one, one, out_dtype=torch.float32).dtype == torch.float32
            _MM_OUT_DTYPE.append(ok)
        except (TypeError, RuntimeError):
            _MM_OUT_DTYPE.append(False)
    return _MM_OUT_DTYPE[0]


def _bf16_parts(t: torch.Tensor, parts: int) -> torch.Tensor:
    """``t`` (float32) as ``parts`` bfloat16 tensors stacked on a new dim 0, whose float32 sum is ``t`` up to
    ~2**(-8 * parts) relative: part p rounds (to nearest even) what parts 0..p-1 left over. One CUDA kernel
    pass where DiffLUT's kernels are available, else torch ops with the same values."""
    if t.is_cuda and kernels.efd_extension() is not None:
        return kernels.efd_extension().split_bf16(t.contiguous(), parts)
    out, rest = [], t
    for _ in range(parts):
        part = rest.to(torch.bfloat16)
        out.append(part)
        rest = rest - part.float()
    return torch.stack(out)


def _f16_column_scale(bound: torch.Tensor) -> torch.Tensor:
    """The powers of two that put each ``bound`` (M,) (>= the largest magnitude of its column) in
    [2**13, 2**14) (at most 2**127): scaled, the column's float16 parts stay finite."""
    _, exponent = torch.frexp(bound)
    return torch.ldexp(bound.new_ones(bound.shape), (14 - exponent).clamp(max=127))


def _f16_scaled_parts(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``t`` (K, M) float32 -> ``(parts, scale)``: ``scale`` (M,) :func:`_f16_column_scale` of each column's
    largest magnitude, ``parts`` (2, K, M) float16 with ``parts[0] = f16(t * scale)`` and
    ``parts[1] = f16(t * scale - parts[0])`` (nearest even): their float32 sum is ``t * scale`` up to
    ~2**-22 relative, far inside float16's range. One CUDA kernel pass where DiffLUT's kernels are
    available, else torch ops with the same values."""
    scale = _f16_column_scale(torch.linalg.vector_norm(t, ord=float("inf"), dim=0))
    if t.is_cuda and kernels.efd_extension() is not None:
        return kernels.efd_extension().split_f16_scaled(t.contiguous(), scale), scale
    scaled = t * scale
    high = scaled.half()
    return torch.stack([high, (scaled - high.float()).half()]), scale


def _scaled_parts_tn(parts: torch.Tensor, scale: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(parts[0] + parts[1]).T @ b / scale[:, None]`` for the float16 ``parts`` (2, K, M) of columns scaled
    by ``scale`` (M,) and a 0/1 ``b`` (K, N): one float16 tensor-core product over the stacked 2K rows,
    accumulated in float32, then unscaled (exact) -> float32 (M, N)."""
    k, m = parts.shape[1:]
    doubled = b.new_empty((2 * k, b.shape[1]), dtype=torch.float16)
    doubled.view(2, k, -1).copy_(b.expand(2, k, -1))  # b twice, as float16, in one pass
    out = torch.mm(parts.view(2 * k, m).T, doubled, out_dtype=torch.float32)
    if kernels.efd_extension() is not None:  # the same division, vectorised
        kernels.efd_extension().unscale_rows(out, scale)
        return out
    return out.div_(scale[:, None])


def binary_logits_grad(grad, address, table, weighting, grad_scale, x) -> torch.Tensor:
    """dL/dlogits (N * k, I) of :class:`SelectedEFDLookup` for a 0/1 ``x`` (B, I) that needs no gradient:
    ``slots.T @ x`` with ``slots`` (B, N * k) the EFD node-input gradient of ``grad`` (B, N) at ``address``
    (as :func:`~difflut.nodes.efd.efd_kernel_backward`), written by one kernel straight as the scaled float16
    parts of :func:`split_tn` (never in float32). Each column's scale comes from a bound on its magnitude,
    ``max_b |grad_scale * grad[b, n]| * max_u |factors[n, u, j]|``, instead of its maximum: the same ~2**-22
    relative accuracy per entry of ``slots``."""
    if len(grad) == 0:
        return x.new_zeros(table.shape[0] * (table.shape[1].bit_length() - 1), x.shape[1])
    factors = efd_input_factors(table, weighting).contiguous()
    grad = grad.contiguous().float()
    grad_max = torch.linalg.vector_norm(grad, ord=float("inf"), dim=0) * abs(grad_scale)
    scale = _f16_column_scale((grad_max[:, None] * factors.abs().amax(1)).flatten())
    parts = kernels.efd_extension().backward_f16_parts(grad, address, factors, scale, grad_scale)
    return _scaled_parts_tn(parts, scale, x)


def split_tn(a: torch.Tensor, b: torch.Tensor, b_binary: bool = False) -> torch.Tensor:
    """``a.T @ b`` for float32 CUDA ``a`` (K, M), ``b`` (K, N) -> float32 (M, N), on 16-bit tensor cores with
    float32 accuracy: every product of parts is exact and the parts are summed inside one product over the
    stacked (parts * K) dimension, accumulated in float32 (docs/cuda.md).

    ``b_binary`` (every entry of ``b`` is 0 or 1, as the encoder's bits the first layer reads; exact in
    float16): ``a``'s columns are scaled by powers of two and split into two float16 parts, and the result
    unscaled (exact), ~2**-22 relative per entry of ``a``. Otherwise ``a`` is split into three bfloat16
    parts and ``b`` into two, ~2**-24 relative. Either way the result equals the float32 product up to
    float32 rounding (relative error ~1e-6 of ``|a|.T @ |b|``).
    """
    k, m = a.shape
    if k == 0:
        return a.new_zeros(m, b.shape[1])
    if b_binary:
        return _scaled_parts_tn(*_f16_scaled_parts(a), b)
    a_parts = _bf16_parts(a, 3).view(3 * k, m)
    b_hi, b_lo = _bf16_parts(b, 2)
    hi = torch.mm(a_parts.T, b_hi.repeat(3, 1), out_dtype=torch.float32)
    return hi.add_(torch.mm(a_parts[:2 * k].T, b_lo.repeat(2, 1), out_dtype=torch.float32))


@register_layer("learnable")
class LearnableLayer(BaseLUTLayer):
    """``output_size`` k-input nodes, each input selecting one layer input by learned logits.

    Shapes: ``x`` (B, input_size) -> (B, output_size).

    Parameter ``logits`` (output_size, k, input_size), initialised uniform in
    [0, 1) from a private generator seeded by ``seed`` (as DWN's mapping weights).

    Training, ``selection``:

    * ``"hard"`` (default, DWN's learnable mapping): node n's input j is
      ``x[:, logits[n, j].argmax()]``, the eval wiring; the backward pass is
      :class:`HardSelect`'s (logits get ``g.T @ x``, inputs get ``g`` spread by
      ``softmax(logits / tau)``, temperature ``tau`` default 1e-3 as DWN's).
    * ``"soft"``: node n's input j is the soft selection
      ``sum_i softmax(logits[n, j] / tau)[i] * x[:, i]`` (default ``tau`` 0.1):
      the forward differs from eval until the softmax is nearly one-hot.

    ``binary_input`` (attribute, default False): the layer's input is always 0/1 in training, as the
    encoder's bits a model's first layer reads (the model sets it); the hard selection's CUDA backward
    then treats ``x`` as exact in float16. With DWN nodes on float32 CUDA operands the hard selection and
    the nodes' lookup run as one (:class:`SelectedEFDLookup`, the same values).

    Eval: node n's input j is ``x[:, connections()[n, j]]`` with
    ``connections() = logits.argmax(-1)`` (ties -> lowest input index); then
    ``y[b, n] = node.truth_table()[n, address]`` as in :class:`RandomLayer`.
    """

    def __init__(self, input_size: int, output_size: int, node_type="dwn", k: int = 6, tau: float | None = None,
                 selection: str = "hard", **kwargs):
        super().__init__(node_type, k, **kwargs)
        self.input_size = check_positive_int("input_size", input_size)
        self.output_size = check_positive_int("output_size", output_size)
        if selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {', '.join(map(repr, SELECTIONS))}, got {selection!r}")
        self.selection = selection
        if tau is None:
            tau = 1e-3 if selection == "hard" else 0.1
        if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not tau > 0:
            raise ValueError(f"tau must be a positive number, got {tau!r}")
        self.tau = float(tau)
        self.logits = nn.Parameter(torch.rand(output_size, self.k, input_size, generator=self.generator()))
        self.binary_input = False
        self.node = self.make_node(output_size)

    def connections(self) -> torch.Tensor:
        """(output_size, k) int64: the eval-mode selection ``logits.argmax(-1)`` (ties -> lowest index)."""
        return self.logits.detach().argmax(-1)

    def set_connections_(self, connections: torch.Tensor) -> None:
        """Make :meth:`connections` equal ``connections`` ((output_size, k) ints in ``0..input_size-1``): each
        slot's chosen logit becomes its row's maximum + 1 (the other logits kept)."""
        check_connections(connections, (self.output_size, self.k), self.input_size, distinct=False)
        with torch.no_grad():
            chosen = connections.to(self.logits.device).unsqueeze(-1)
            top = self.logits.max(-1, keepdim=True).values + 1.0
            self.logits.scatter_(-1, chosen, top)

    def lut_forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        logits = self.logits.view(-1, self.input_size)
        if not self.training:
            selected = x.index_select(1, self.connections().view(-1))
        elif self.selection == "hard":
            args = self._fused_lookup_args(x)
            if args is not None:  # the selection read inside the nodes' lookup kernel: same values
                return SelectedEFDLookup.apply(x, logits, args["table"], self.tau, self.binary_input,
                                               args["weighting"], args["hard"], float(args["grad_scale"]))
            selected = HardSelect.apply(x, logits, self.tau, self.binary_input)
        else:
            selected = x @ torch.softmax(logits / self.tau, dim=-1).to(x.dtype).T
        return self.node(selected.view(batch, self.output_size, self.k))

    def _fused_lookup_args(self, x: torch.Tensor) -> dict | None:
        """The DWN node's lookup arguments when :class:`SelectedEFDLookup` can run (float32 CUDA operands,
        the kernels built, k within the wired kernels', no forward hooks that calling the node would run);
        else ``None`` (the selection, then the node)."""
        lookup_args = getattr(self.node, "efd_lookup_args", None)
        if (lookup_args is None or _runs_forward_hooks(self.node) or not x.is_cuda or x.dtype != torch.float32
                or self.logits.dtype != torch.float32
                or kernels.disabled() or kernels.efd_extension() is None
                or self.k > kernels.efd_extension().max_wired_k or not _mm_out_dtype_works()):
            return None
        args = lookup_args()
        return args if kernels.use_efd_kernel(x, args["table"]) else None

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise InputError(
                f"{type(self).__name__} expects input of shape (batch, {self.input_size}), got {tuple(x.shape)}"
            )

    def extra_repr(self) -> str:
        return (f"{self.input_size} -> {self.output_size}, selection={self.selection!r}, tau={self.tau}, "
                + super().extra_repr())
