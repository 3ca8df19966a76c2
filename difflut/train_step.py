"""The GPU training step: encoded bits on the device, a fused Adam, and (optionally) a CUDA graph.

A step is ``loss = cross_entropy(model.head(model._forward_impl(bits)), labels) + model's
regularisation``, backward and an Adam step: the same function as :func:`difflut.training.train`'s
CPU step, which encodes the images inside ``model(images)``. The encoder has no parameters, so the
encoded training set (0/1, stored as uint8 on the device) can be computed once per run.

With ``graphed=True`` the whole step (forward, loss, backward, optimizer, the epoch's running sums) is
captured once into a :class:`torch.cuda.CUDAGraph` for a fixed batch size and replayed: one launch per
step and no host synchronisation. Batches of another size (an epoch's last) run the same ops eagerly.
Under ``DistributedDataParallel`` (NCCL) the gradient all-reduce is captured with the step: DDP is built on
a side stream (:func:`wrap_ddp`) and warmed up for :data:`DDP_WARMUP` eager steps before the capture, as
PyTorch's CUDA-graph notes require.
"""

from __future__ import annotations

import functools
import inspect

import torch
import torch.nn.functional as F
from torch import nn


class BitsForward(nn.Module):
    """``model``'s forward after its (parameter-free) encoder: bits (B, F) -> (logits (B, C), regularisation ())."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, bits: torch.Tensor):
        model = self.model
        return model.head(model._forward_impl(bits)), model.get_regularization_loss()


@torch.no_grad()
def encode_on_device(model, images: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
    """The encoder's bits of integer ``images`` (N, *input_shape), as uint8 (N, F) on the model's device."""
    device = model.device
    chunks = [model.encode(images[i:i + batch_size].to(device)).to(torch.uint8)
              for i in range(0, len(images), batch_size)]
    return torch.cat(chunks)


#: eager steps before capturing a step of a ``DistributedDataParallel`` net (PyTorch asks for at least 11)
DDP_WARMUP = 11


def wrap_ddp(net: nn.Module, device: torch.device) -> nn.Module:
    """``net`` in ``DistributedDataParallel`` (one device per process), built on a side stream on a CUDA
    device so that its step can be captured in a CUDA graph.

    Buffers (wirings, encoder thresholds) are not broadcast before every forward: training does not change
    them, and the broadcast would rewrite them in place, invalidating what is cached from them (a layer's
    prepared wiring) inside a graph capture. They are sent from rank 0 when DDP is built where torch has
    ``forward_sync_buffers``; an older torch's ``broadcast_buffers=False`` sends them never, and they are
    equal anyway (the wirings come from the seed; every rank fits the encoder on the same images)."""
    ddp = torch.nn.parallel.DistributedDataParallel
    if "forward_sync_buffers" in inspect.signature(ddp.__init__).parameters:
        ddp = functools.partial(ddp, forward_sync_buffers=False)
    else:
        ddp = functools.partial(ddp, broadcast_buffers=False)
    if device.type != "cuda":
        return ddp(net)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        wrapped = ddp(net, device_ids=[device.index])
    torch.cuda.current_stream().wait_stream(stream)
    return wrapped


class TrainStep:
    """One training step on device-resident bits; ``__call__(bits, labels)`` updates the parameters.

    Args:
        net: a :class:`BitsForward` (or a ``DistributedDataParallel`` around one).
        optimizer: the optimizer (for ``graphed``: built with ``capturable=True`` or ``fused=True``).
        graphed: capture the step of the first full batch into a CUDA graph and replay it.
    Running sums over the steps since :meth:`reset_sums`: ``loss_sum`` (float64, loss times batch) and
    ``correct`` (int64, training-mode argmax hits), both on the device.
    """

    def __init__(self, net, optimizer, device, graphed: bool = False):
        self.net, self.optimizer, self.graphed = net, optimizer, graphed
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self._graph = None

    def reset_sums(self) -> None:
        self.loss_sum.zero_()
        self.correct.zero_()

    def _eager(self, bits: torch.Tensor, labels: torch.Tensor) -> None:
        logits, reg = self.net(bits.float())
        loss = F.cross_entropy(logits, labels) + reg
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.correct += (logits.detach().argmax(1) == labels).sum()
        self.loss_sum += loss.detach().double() * len(labels)

    def __call__(self, bits: torch.Tensor, labels: torch.Tensor) -> None:
        if not self.graphed:
            return self._eager(bits, labels)
        if self._graph is None:
            self._capture(bits, labels)
        if bits.shape != self._bits.shape:
            return self._eager(bits, labels)
        self._bits.copy_(bits)
        self._labels.copy_(labels)
        self._graph.replay()

    def _capture(self, bits: torch.Tensor, labels: torch.Tensor) -> None:
        """Warm up (eager steps on a side stream: 2, or :data:`DDP_WARMUP` under DDP; then parameters,
        optimizer state and sums restored), capture."""
        self._bits, self._labels = bits.clone(), labels.clone()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        saved = [p.detach().clone() for p in params]
        sums = (self.loss_sum.clone(), self.correct.clone())
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            ddp = isinstance(self.net, torch.nn.parallel.DistributedDataParallel)
            for _ in range(DDP_WARMUP if ddp else 2):
                self._eager(self._bits, self._labels)
        torch.cuda.current_stream().wait_stream(stream)
        with torch.no_grad():
            for p, s in zip(params, saved):
                p.copy_(s)
            for state in self.optimizer.state.values():  # as freshly initialised: step 0, zero moments
                for value in state.values():
                    if isinstance(value, torch.Tensor):
                        value.zero_()
            self.loss_sum.copy_(sums[0])
            self.correct.copy_(sums[1])
        self.optimizer.zero_grad(set_to_none=True)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            self._eager(self._bits, self._labels)
