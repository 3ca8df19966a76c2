"""A small, readable training loop for zoo models.

``train`` fits the encoder (if needed), then for each epoch runs Adam on
``cross_entropy(model(images), labels) + model.get_regularization_loss()`` over
shuffled mini-batches, evaluates the (eval-mode, i.e. hardware) accuracy on the
validation set, and keeps the best epoch (its weights are restored into the model
at the end and, with ``out``, saved as a checkpoint each time the best improves) or,
with ``keep="last"``, the final one.

With ``cuda_graph=True`` on a CUDA device the step runs on device-resident encoded bits with a fused
Adam, captured in a CUDA graph (:mod:`difflut.train_step`). Inside a process group (:mod:`difflut.distributed`: ``difflut
train --gpus N`` or ``torchrun``) the model is wrapped in ``DistributedDataParallel``, each rank
trains on its shard of every epoch's permutation, and rank 0 writes checkpoints and logs; with
``cuda_graph=True`` the graph holds DDP's gradient all-reduce too.
"""

from __future__ import annotations

import copy
import functools
import time
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import distributed
from .augment import check_max_shift, random_hflip, random_shift
from .train_step import BitsForward, TrainStep, encode_on_device, wrap_ddp


SCHEDULES = ("constant", "cosine")
KEEP = ("best", "last")
_PROGRESS_EVERY = 20  # steps between progress-bar updates (each one waits for the device)


def _check_data(images, labels, what: str) -> None:
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise TypeError(f"{what}: images and labels must be torch tensors")
    if labels.dim() != 1 or len(labels) != len(images):
        raise ValueError(f"{what}: expected labels of shape ({len(images)},), got {tuple(labels.shape)}")
    if len(images) == 0:
        raise ValueError(f"{what}: no samples")


def _as_data(model, images, labels):
    """Images as the model takes them (:meth:`BaseModel.to_codes`: ints, exact floats, numpy) and labels as a tensor."""
    return model.to_codes(images), torch.as_tensor(labels)


def evaluate(model, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1024,
             flip_rate: float = 0.0, seed: int = 0, packed: bool = False) -> float:
    """Eval-mode (hardware) accuracy in [0, 1] of ``model`` on integer ``images``.

    ``flip_rate`` > 0 flips each input bit of every LUT layer with that probability
    (fault injection, seeded by ``seed``; see :meth:`BaseModel.inject_faults`). ``packed=True`` (a CUDA
    model without faults) lowers the model and evaluates its IR bit-packed on the GPU
    (:mod:`difflut.packed_eval`): the same predictions, ~5x the images/s of the eval forward, but each call
    lowers the model first (~1.2 s for the 8k model on one CPU core), so training's per-epoch validation
    keeps the eval forward.
    """
    images, labels = _as_data(model, images, labels)
    _check_data(images, labels, "evaluate")
    if labels.is_floating_point() or labels.dtype == torch.bool or labels.is_complex() \
            or int(labels.min()) < 0 or int(labels.max()) >= model.num_classes:
        raise ValueError(f"evaluate: labels must be integers in 0..{model.num_classes - 1} (the model's classes), "
                         f"got {labels.dtype} values in {labels.min().item()}..{labels.max().item()}")
    if packed and model.device.type == "cuda" and not flip_rate:  # the bit-packed evaluator of the model's IR
        from .hw.lower import LoweringError
        from .packed_eval import packed_class_scores

        try:
            predicted = packed_class_scores(model, images).argmax(1)
            return (predicted.cpu() == labels.cpu()).float().mean().item()
        except LoweringError:  # a structure the IR does not know: the torch eval forward below
            pass
    with model.inject_faults(flip_rate, seed=seed):
        predicted = model.predict(images, batch_size=batch_size)
    return (predicted.cpu() == labels.cpu()).float().mean().item()


def _check_keep(keep) -> None:
    if keep not in KEEP:
        raise ValueError(f"keep must be one of {', '.join(KEEP)}, got {keep!r}")


def kept_record(history: list[dict[str, Any]], keep: str = "best") -> dict[str, Any]:
    """The record of the epoch :func:`train` keeps: the first with the highest ``val_accuracy``
    (``keep="best"``) or the last (``keep="last"``)."""
    _check_keep(keep)
    return max(history, key=lambda r: r["val_accuracy"]) if keep == "best" else history[-1]


def _augment(images: torch.Tensor, *, shift: int, flip: bool, shifts, flips) -> torch.Tensor:
    """The training batch ``images`` randomly shifted (up to ``shift`` pixels) and mirrored (``flip``)."""
    if shift:
        images = random_shift(images, shift, shifts)
    return random_hflip(images, flips) if flip else images


def train(model, train_images: torch.Tensor, train_labels: torch.Tensor,
          val_images: torch.Tensor | None = None, val_labels: torch.Tensor | None = None, *,
          epochs: int = 1, batch_size: int = 128, lr: float | None = None, schedule: str = "constant",
          device=None, out=None, seed: int = 0, progress: bool = True,
          metadata: dict | None = None, on_epoch=None, augment_shift: int = 0, augment_flip: bool = False,
          keep: str = "best", cuda_graph: bool = False) -> list[dict[str, Any]]:
    """Train ``model`` in place; returns one dict per epoch (loss, train/val accuracy, samples/s).

    Args:
        train_images, train_labels: images (N, *input_shape) as the model takes them (integer codes, or
            floats equal to the codes' values, e.g. uint8 / 255; see :meth:`BaseModel.to_codes`) and int64 labels (N,).
        val_images, val_labels: the data that picks the best epoch (default: the training data).
        lr: Adam's learning rate (default: ``model.default_lr``, set per model).
        schedule: ``"constant"``, or ``"cosine"`` (per step from ``lr`` down to 0 at the last step).
        device: where to train (default: the model's device).
        out: checkpoint path; the kept epoch so far is saved there (atomically).
        seed: seeds the batch order and torch's global RNG (train-time bit flips).
        progress: show a tqdm bar with loss, accuracy and samples/s.
        augment_shift: shift each training image by a random (dy, dx) in ``-augment_shift..augment_shift``
            pixels, zero-filled, every time it is used (:func:`difflut.augment.random_shift`); 0: off.
        augment_flip: mirror each training image left-right with probability 1/2 every time it is used
            (:func:`difflut.augment.random_hflip`; after the shift): for classes that look alike
            mirrored (natural images); not digits, and no gain on Fashion-MNIST (docs/training_features.md).
        on_epoch: called as ``on_epoch(record)`` after each epoch, while the model holds that epoch's
            weights (e.g. to log, or to add ``evaluate(model, ...)`` results to the record in place).
        keep: which epoch's weights the model (and ``out``) ends with: ``"best"`` (highest validation
            accuracy, the first on ties) or ``"last"`` (the final epoch; the natural choice after a cosine
            schedule, where a small validation split mostly picks noise).
        cuda_graph: on a CUDA device, train through :mod:`difflut.train_step` (encoded bits on the device,
            fused Adam, the step captured in a CUDA graph; ~4-5x faster steps). The README recipe through it:
            98.49 / 98.44 / 98.23% MNIST test (seeds 0-2, H200, 2026-11-30) against 98.47% (seed 0) for the
            plain loop; opt-in until a model whose forward cannot be captured falls back by itself.
    Returns: the history; the model ends in eval mode holding the kept epoch's weights.
    """
    train_images, train_labels = _as_data(model, train_images, train_labels)
    _check_data(train_images, train_labels, "train")
    if val_images is None:
        val_images, val_labels = train_images, train_labels
    val_images, val_labels = _as_data(model, val_images, val_labels)
    _check_data(val_images, val_labels, "validation")
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    check_max_shift(augment_shift)
    if not isinstance(augment_flip, bool):
        raise ValueError(f"augment_flip must be True or False, got {augment_flip!r}")
    if augment_flip and train_images.dim() < 3:
        raise ValueError(f"augment_flip needs images (N, ..., H, W), got shape {tuple(train_images.shape)}")
    if augment_shift and (train_images.dim() < 3 or augment_shift >= min(train_images.shape[-2:])):
        raise ValueError(f"augment_shift {augment_shift} must be smaller than the images "
                         f"({tuple(train_images.shape[1:])}): a larger shift leaves them blank")
    if out is not None:  # before any work: the checkpoint path is writable and not another file
        from .run_options import check_checkpoint_out

        check_checkpoint_out(out)
    _check_keep(keep)
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if device is not None:
        model.to(device)
    device = model.device
    if not model.encoder.fitted:
        model.fit_encoder(train_images)

    torch.manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    shifts = torch.Generator().manual_seed(seed + 1)
    flips = torch.Generator().manual_seed(seed + 2)
    augment = functools.partial(_augment, shift=augment_shift, flip=augment_flip, shifts=shifts, flips=flips)
    lr = model.default_lr if lr is None else lr
    # The GPU path (and any multi-process run): encoded bits on the device, a fused Adam, a CUDA-graphed
    # step (with cuda_graph; under DDP too). The single-process CPU path is the plain loop below.
    fast = (device.type == "cuda" and cuda_graph) or distributed.active()
    if fast and device.type == "cuda":
        optimizer = torch.optim.Adam(model.parameters(), fused=True, capturable=True,
                                     lr=torch.tensor(lr, device=device) if schedule != "constant" else lr)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(train_images)
    per_rank = len(distributed.shard(torch.arange(n)))
    steps = epochs * -(-per_rank // batch_size)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps) if schedule == "cosine"
                 else None)
    labels_dev = train_labels.to(device)
    if fast:
        threads = torch.get_num_threads()
        if device.type == "cuda":
            torch.set_num_threads(1)  # the host only launches work: one core (plus the Python thread)
        net = BitsForward(model)
        if distributed.active():
            net = wrap_ddp(net, device)
        runner = TrainStep(net, optimizer, device, graphed=cuda_graph and device.type == "cuda")
        augmenting = bool(augment_shift or augment_flip)
        bits_all = None if augmenting else encode_on_device(model, train_images)
        images_dev = train_images.to(device) if augmenting else None
    main = distributed.is_main()
    progress = progress and main
    history, best_acc, best_state = [], -1.0, None
    for epoch in range(1, epochs + 1):
        model.train()
        start, cpu_start, seen = time.perf_counter(), time.process_time(), 0
        if fast:
            runner.reset_sums()
            correct, loss_sum = runner.correct, runner.loss_sum
        else:
            correct = torch.zeros((), dtype=torch.int64, device=device)  # on the device: no .item() per step
            loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        bar = tqdm(total=per_rank, desc=f"epoch {epoch}/{epochs}", unit="img", disable=not progress, leave=False)
        epoch_order = distributed.shard(torch.randperm(n, generator=order))
        for step, idx in enumerate((epoch_order.to(device) if fast else epoch_order).split(batch_size), 1):
            if fast:
                labels = labels_dev[idx]
                if bits_all is not None:
                    bits = bits_all[idx]
                else:
                    bits = model.encode(augment(images_dev[idx]))
                runner(bits, labels)
            else:
                images, labels = train_images[idx].to(device), labels_dev[idx.to(device)]
                images = augment(images)
                logits = model(images)
                loss = F.cross_entropy(logits, labels) + model.get_regularization_loss()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                correct += (logits.detach().argmax(1) == labels).sum()
                loss_sum += loss.detach().double() * len(idx)
            if scheduler is not None:
                scheduler.step()

            seen += len(idx)
            if progress and (step % _PROGRESS_EVERY == 0 or seen == per_rank):
                rate = seen / max(time.perf_counter() - start, 1e-9)
                bar.update(seen - bar.n)
                bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}", acc=f"{correct.item() / seen:.3f}",
                                **{"samples/s": f"{rate:.0f}"})
        bar.close()
        if distributed.active():  # the epoch's sums over every rank
            sums = distributed.all_sum(torch.stack([loss_sum, correct.double(),
                                                    torch.tensor(seen, dtype=torch.float64, device=device)]))
            epoch_loss, epoch_correct, seen = sums[0].item(), int(sums[1].item()), int(sums[2].item())
        else:
            epoch_loss, epoch_correct = loss_sum.item(), correct.item()  # waits for the device's last step
        seconds = time.perf_counter() - start
        cpu_cores = (time.process_time() - cpu_start) / seconds  # the host's share of the epoch's steps
        val_acc = evaluate(model, val_images, val_labels)
        record = {"epoch": epoch, "loss": epoch_loss / seen, "train_accuracy": epoch_correct / seen,
                  "val_accuracy": val_acc, "seconds": seconds, "samples_per_s": seen / seconds,
                  "cpu_cores": cpu_cores}
        history.append(record)
        if on_epoch is not None and main:
            on_epoch(record)
        if progress:
            tqdm.write(f"epoch {epoch}/{epochs}: loss {record['loss']:.4f}  train acc {record['train_accuracy']:.4f}"
                       f"  val acc (eval mode) {val_acc:.4f}  {record['samples_per_s']:.0f} samples/s")
        if keep == "last" or val_acc > best_acc:
            if keep == "best":
                best_acc, best_state = val_acc, copy.deepcopy(model.state_dict())
            if out is not None and main:
                model.save_checkpoint(out, metadata=dict(metadata or {}, epoch=epoch, val_accuracy=val_acc,
                                                         history=history))
    if fast:
        torch.set_num_threads(threads)
    if keep == "best":
        model.load_state_dict(best_state)
    model.eval()
    return history
