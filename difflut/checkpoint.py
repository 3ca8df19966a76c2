"""Self-contained, verified checkpoints of zoo models.

A checkpoint is a ``torch.save`` file holding only tensors and plain containers
(so it loads with ``torch.load(..., weights_only=True)``, which cannot run code)::

    {
        "format": "difflut-checkpoint", "format_version": 1,
        "library_version": "0.1.0",
        "model_name": "mnist_fc_8k_linear",
        "model_class": "difflut.models.mnist:MNISTLinearSmall",   # module:qualname of the model's class
        "seed": 0,
        "overrides": {...},          # what get_model was given (lists for tuples)
        "config": {...},             # the resolved configuration, for checking
        "state_dict": {name: tensor},  # the whole model: encoder thresholds, wiring, weights
        "digest": "sha256 hex",      # over names, dtypes, shapes and bytes of state_dict
        "metadata": {...},           # plain values, e.g. epoch and accuracy from training
        "compact": {name: form},     # optional: state_dict entries stored in a compact form (below)
    }

A *compact* checkpoint (``save_checkpoint(..., compact=True)``, ``difflut compact IN.pt OUT.pt``) stores
what eval needs in less space; loading restores each entry to the model's dtype and shape:

* ``"one_hot"``: a learnable layer's mapping logits ``(O, k, I)`` stored as its connections
  ``logits.argmax(-1)``, int16/int32 ``(O, k)``; restored as one-hot logits (1 at the connection, 0
  elsewhere), whose argmax is the same connection.
* ``"cast"``: a tensor stored in a narrower dtype (node parameters in float16, or bfloat16, integer
  wiring in int16/int32), restored with ``.to(model dtype)``. Saving rounds a node module's parameters
  to float16 if that gives the same truth tables, else to bfloat16 (a wider range: tiny values keep
  their sign) if that does, else keeps them; then it checks that the whole restored model has the same
  connections and truth tables, so eval, the IR and every export are those of the full checkpoint.

A compact checkpoint is for eval and export: training from it starts from one-hot mapping logits and
rounded node parameters, not from the trained logits of the full one.

``get_model(name, seed, **overrides).load_checkpoint(path)`` and
:func:`load` (which needs no name) reproduce the saved model's eval outputs exactly.
Saving writes a temporary file in the target folder and renames it over the target
(``os.replace``), so a crash never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from .errors import DiffLUTError
from .files import atomic_file, library_version, sha256_file
from .plain import to_plain
from .registry import MODELS

FORMAT = "difflut-checkpoint"
FORMAT_VERSION = 1
_KEYS = {"format", "format_version", "library_version", "model_name", "seed", "overrides", "config",
         "state_dict", "digest", "metadata"}
#: configuration keys that do not change the saved function (the device)
_DEVICE_KEYS = ("use_cuda",)
#: entries a checkpoint may lack (written since: ``model_class``, the ``module:qualname`` of the model's class)
_OPTIONAL_KEYS = {"model_class", "compact"}
#: compact forms of a state_dict entry (see the module docstring)
COMPACT_FORMS = ("one_hot", "cast")
_CAST_DTYPES = (torch.float16, torch.bfloat16, torch.int16, torch.int32)


class CheckpointError(DiffLUTError, ValueError):
    """A file is not a readable DiffLUT checkpoint, is corrupt, or belongs to another model."""


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every entry's name, dtype, shape and raw bytes, in sorted name order."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def class_path(cls: type) -> str:
    """``module:qualname`` of a model class (what a checkpoint records)."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _model_class(ckpt: dict, path) -> type:
    """The class that rebuilds a checkpoint's model: the registered one, or the recorded class if its module
    is already imported (a checkpoint never makes DiffLUT import anything)."""
    import sys

    name, recorded = ckpt["model_name"], ckpt.get("model_class")
    if name in MODELS and (recorded is None or recorded.split(".")[0] == "difflut"
                           or class_path(MODELS.get(name)) == recorded):
        return MODELS.get(name)
    if not isinstance(recorded, str) or ":" not in recorded or recorded.split(".")[0] == "difflut":
        raise CheckpointError(
            f"{str(path)!r} holds model {name!r}, which this DiffLUT ({library_version()}, checkpoint from "
            f"{ckpt['library_version']}) does not know; known models: {', '.join(MODELS.names())}"
        )
    module_name, qualname = recorded.split(":", 1)
    obj = sys.modules.get(module_name)
    if obj is None:
        raise CheckpointError(
            f"{str(path)!r} holds model {name!r} of class {recorded}, whose module {module_name!r} is not "
            f"imported: import it first (command line: --import {module_name}); DiffLUT never imports a "
            f"checkpoint's module by itself"
        )
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    base = sys.modules.get("difflut.models.base")  # imported by any BaseModel subclass (no import edge here)
    if not (isinstance(obj, type) and base is not None and issubclass(obj, base.BaseModel)):
        hint = (" (the class was defined in a script run as __main__: define it in a module and import it)"
                if module_name == "__main__" else "")
        raise CheckpointError(f"{str(path)!r}: module {module_name!r} has no model class {qualname!r}{hint}")
    return obj


def save_checkpoint(model, path, metadata: dict | None = None, compact: bool = False) -> None:
    """Write ``model`` (a zoo :class:`~difflut.models.BaseModel`) to ``path`` atomically.

    ``compact``: store the compact form (module docstring) that computes the same eval function.
    """
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    forms = compact_state(model, state) if compact else {}
    ckpt = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": library_version(),
        "model_name": model.model_name,
        "model_class": class_path(type(model)),
        "seed": model.seed,
        "overrides": model.plain_overrides(),
        "config": to_plain(model.config, "config"),
        "state_dict": state,
        "digest": state_digest(state),
        "metadata": to_plain(dict(metadata or {}), "metadata"),
    }
    if forms:
        ckpt["compact"] = forms
    with atomic_file(path) as f:
        torch.save(ckpt, f)


def _index_dtype(bound: int) -> torch.dtype:
    """The narrowest of int16 / int32 / int64 holding every value in ``[-bound, bound]``."""
    for dtype in (torch.int16, torch.int32):
        if bound <= torch.iinfo(dtype).max:
            return dtype
    return torch.int64


def _narrow_float(node) -> torch.dtype | None:
    """float16, else bfloat16 (wider range, fewer digits): the first that gives ``node`` (a BaseNode) the
    same truth table when its float tensors are rounded to it; None if neither does."""
    import copy

    reference = node.truth_table().cpu()
    for dtype in (torch.float16, torch.bfloat16):
        trial = copy.deepcopy(node).cpu()
        with torch.no_grad():
            for t in trial.state_dict().values():
                if t.is_floating_point():
                    t.copy_(t.to(dtype).to(t.dtype))
        if torch.equal(trial.truth_table(), reference):
            return dtype
    return None


def compact_state(model, state: dict[str, torch.Tensor]) -> dict[str, str]:
    """Replace entries of ``state`` (``model.state_dict()`` on the CPU) by compact forms, in place.

    Returns ``{name: form}``. A node module's float parameters become float16 or bfloat16 only if its
    truth tables stay equal; the restored model is checked to have the same connections and truth
    tables as ``model`` (a RuntimeError otherwise: a bug, never a tolerance).
    """
    import copy

    from .layers.learnable_layer import LearnableLayer
    from .nodes.base import BaseNode

    forms: dict[str, str] = {}
    modules = dict(model.named_modules())
    for prefix, module in modules.items():
        dot = f"{prefix}." if prefix else ""
        if isinstance(module, LearnableLayer):
            state[dot + "logits"] = module.connections().cpu().to(_index_dtype(module.input_size))
            forms[dot + "logits"] = "one_hot"
        elif isinstance(module, BaseNode):
            names = [dot + n for n, t in module.state_dict().items() if t.is_floating_point()]
            narrow = _narrow_float(module) if names else None
            if narrow is not None:
                forms.update({name: "cast" for name in names})
                state.update({name: state[name].to(narrow) for name in names})
    for name, t in state.items():
        if name not in forms and t.dtype in (torch.int32, torch.int64) and t.numel():
            narrow = _index_dtype(int(t.abs().max()))
            if narrow != t.dtype:
                state[name], forms[name] = t.to(narrow), "cast"
    reference = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    full = restore_state(state, forms, reference, "compact form")
    wrong = [k for k, v in full.items() if not v.is_floating_point() and not torch.equal(v, reference[k])]
    restored = copy.deepcopy(model).cpu()
    restored.load_state_dict(full)
    for prefix, module in restored.named_modules():
        ours = modules[prefix]
        if isinstance(module, LearnableLayer) and not torch.equal(module.connections(), ours.connections().cpu()):
            wrong.append(f"{prefix} (connections)")
        elif isinstance(module, BaseNode) and not torch.equal(module.truth_table(), ours.truth_table().cpu()):
            wrong.append(f"{prefix} (truth table)")
    if wrong:
        raise RuntimeError(f"compact form of {type(model).__name__} computes another function: {', '.join(wrong)}")
    return forms


def restore_state(state: dict[str, torch.Tensor], forms: dict[str, str], model_state: dict[str, torch.Tensor],
                  where: str) -> dict[str, torch.Tensor]:
    """The full state dict of a compact one: each entry of ``forms`` in the dtype and shape of ``model_state``.

    Raises :class:`CheckpointError` for an entry that does not fit the model (shape, kind, index range).
    """
    full = dict(state)
    for name, form in forms.items():
        if name not in model_state:
            raise CheckpointError(f"{where!r}: compact entry {name!r} is not a tensor of the model")
        stored, target = state[name], model_state[name]
        if form == "one_hot":  # shape: the model's; a cast keeps its own (load_state_dict checks it)
            fits = target.dim() == 3 and target.is_floating_point() and stored.shape == target.shape[:2]
        else:
            fits = target.is_floating_point() == stored.is_floating_point() and target.dtype != torch.bool
        if not fits:
            raise CheckpointError(f"{where!r}: compact entry {name!r} ({form}, {stored.dtype} "
                                  f"{tuple(stored.shape)}) does not fit the model's {target.dtype} "
                                  f"{tuple(target.shape)}")
        if form == "cast":
            full[name] = stored.to(target.dtype)
            continue
        index = stored.to(torch.int64)
        if index.numel() and not bool(((index >= 0) & (index < target.shape[2])).all()):
            raise CheckpointError(f"{where!r}: compact entry {name!r} has connections outside "
                                  f"0..{target.shape[2] - 1}")
        full[name] = torch.zeros(target.shape, dtype=target.dtype).scatter_(2, index.unsqueeze(-1), 1.0)
    return full


def read_checkpoint(path) -> dict[str, Any]:
    """Read and verify a checkpoint file -> its dict (plus ``file_sha256``, the file's SHA-256).

    Raises :class:`CheckpointError` if it is not a DiffLUT checkpoint or is corrupt.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {str(path)!r}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # zip, pickle, EOF and unpickler errors all mean "not a valid file"
        raise CheckpointError(
            f"{str(path)!r} is not a readable DiffLUT checkpoint (corrupt, truncated or another format): "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is a torch file but not a DiffLUT checkpoint "
                              f"(no format={FORMAT!r} entry)")
    if type(ckpt.get("format_version")) is not int or ckpt["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"{str(path)!r} has checkpoint format version {ckpt.get('format_version')!r}; "
                              f"this DiffLUT ({library_version()}) reads version {FORMAT_VERSION}")
    _check_entries(ckpt, str(path))
    try:
        digest = state_digest(ckpt["state_dict"])
    except (RuntimeError, TypeError, ValueError) as e:  # a tensor whose bytes cannot be read (sparse, ...)
        raise CheckpointError(f"{str(path)!r}: state_dict holds a tensor that cannot be read: {e}") from None
    if digest != ckpt["digest"]:
        raise CheckpointError(f"{str(path)!r} is corrupt: the weights do not match the stored SHA-256 digest")
    ckpt["file_sha256"] = sha256_file(path)
    return ckpt


def _check_entries(ckpt: dict, where: str) -> None:
    """Raise :class:`CheckpointError` naming the first entry of ``ckpt`` with a wrong key set or type."""
    missing, extra = _KEYS - set(ckpt), set(ckpt) - _KEYS - _OPTIONAL_KEYS
    if missing:
        raise CheckpointError(f"{where!r} is missing checkpoint entries: {', '.join(sorted(missing))}")
    if extra:
        raise CheckpointError(f"{where!r} has unknown checkpoint entries: {', '.join(sorted(map(repr, extra)))}")
    expected = {"library_version": (str, "a string"), "model_name": (str, "a string"),
                "seed": (int, "an integer"), "overrides": (dict, "a dict"), "config": (dict, "a dict"),
                "state_dict": (dict, "a dict of tensors"), "digest": (str, "a string"),
                "metadata": (dict, "a dict")}
    if "model_class" in ckpt:
        expected["model_class"] = (str, "a string")
    for key, (kind, what) in expected.items():
        if not isinstance(ckpt[key], kind) or isinstance(ckpt[key], bool):
            raise CheckpointError(f"{where!r}: entry {key!r} must be {what}, got {type(ckpt[key]).__name__}")
    for key in ("overrides", "config", "metadata"):
        try:
            to_plain(ckpt[key], key)
        except TypeError as e:
            raise CheckpointError(f"{where!r}: entry {e}") from None
    for name, tensor in ckpt["state_dict"].items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            raise CheckpointError(f"{where!r}: state_dict must map names (str) to tensors, got "
                                  f"{type(name).__name__} -> {type(tensor).__name__}")
    _check_compact(ckpt, where)


def _check_compact(ckpt: dict, where: str) -> None:
    """Raise :class:`CheckpointError` for a malformed ``compact`` entry (forms and stored dtypes)."""
    forms = ckpt.get("compact", {})
    if not isinstance(forms, dict):
        raise CheckpointError(f"{where!r}: entry 'compact' must be a dict, got {type(forms).__name__}")
    for name, form in forms.items():
        if not isinstance(name, str) or name not in ckpt["state_dict"]:
            raise CheckpointError(f"{where!r}: compact entry {name!r} names no state_dict tensor")
        if form not in COMPACT_FORMS:
            raise CheckpointError(f"{where!r}: compact entry {name!r} has form {form!r}; known: "
                                  f"{', '.join(COMPACT_FORMS)}")
        t = ckpt["state_dict"][name]
        ok = (t.dtype in (torch.int16, torch.int32, torch.int64) and t.dim() == 2 if form == "one_hot"
              else t.dtype in _CAST_DTYPES)
        if not ok or t.layout != torch.strided:
            raise CheckpointError(f"{where!r}: compact entry {name!r} ({form}) cannot be stored as {t.dtype} "
                                  f"{t.layout} of {t.dim()} dimension(s)")


def _normalise(config: dict) -> dict:
    return {k: v for k, v in to_plain(config, "config").items() if k not in _DEVICE_KEYS}


def load_into(model, path, strict_config: bool = True, _ckpt: dict | None = None) -> dict[str, Any]:
    """Load checkpoint ``path`` into ``model``; returns the checkpoint's metadata.

    The checkpoint must come from the same model name; with ``strict_config`` its resolved
    configuration (device aside) must equal the model's too, except that a key the model gained after the
    file was written counts as equal at its default value. Raises :class:`CheckpointError`.
    """
    ckpt = _ckpt if _ckpt is not None else read_checkpoint(path)
    if ckpt["model_name"] != model.model_name:
        raise CheckpointError(
            f"{str(path)!r} holds model {ckpt['model_name']!r}, not {model.model_name!r}; "
            f"use difflut.load({str(path)!r}) to rebuild the saved model"
        )
    if strict_config:
        saved, ours = _normalise(ckpt["config"]), _normalise(model.config)
        unknown = sorted(set(saved) - set(ours))
        if unknown:
            raise CheckpointError(f"{str(path)!r}: config has keys that {model.model_name!r} does not have: "
                                  f"{', '.join(map(repr, unknown))}")
        defaults = _normalise(getattr(model, "defaults", None) or {})
        newer = {k for k in set(ours) - set(saved) if k in defaults and ours[k] == defaults[k]}
        diff = sorted(k for k in (set(saved) | set(ours)) - newer if saved.get(k) != ours.get(k))
        if diff:
            detail = ", ".join(f"{k}: saved {saved.get(k)!r}, model {ours.get(k)!r}" for k in diff)
            raise CheckpointError(
                f"{str(path)!r} was saved with another configuration of {model.model_name!r} ({detail}); "
                f"build the model with the same overrides or use difflut.load({str(path)!r})"
            )
    model_state = model.state_dict()
    state = restore_state(ckpt["state_dict"], ckpt.get("compact", {}), model_state, str(path))
    for name, tensor in state.items():
        if name in model_state and tensor.dtype != model_state[name].dtype:
            raise CheckpointError(f"{str(path)!r} does not fit {model.model_name!r}: state_dict[{name!r}] is "
                                  f"{tensor.dtype}, the model's {model_state[name].dtype}")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{str(path)!r} does not fit {model.model_name!r}: {e}") from None
    model.checkpoint_metadata = ckpt["metadata"]
    model.checkpoint_sha256 = ckpt.get("file_sha256")
    return ckpt["metadata"]


def _as_override(value):
    return tuple(value) if isinstance(value, list) else value


def _rebuild(cls, ckpt: dict, overrides: dict, path):
    try:
        return cls(seed=ckpt["seed"], **overrides)
    except (TypeError, ValueError, RuntimeError, DiffLUTError) as e:
        raise CheckpointError(f"{str(path)!r}: cannot rebuild {ckpt['model_name']!r} from its stored "
                              f"configuration: {e}") from None


def load(path, device: str | torch.device | None = None):
    """Rebuild the model saved in ``path`` (name, seed and overrides from the file) and load it.

    The saved resolved configuration wins over defaults changed since: its overridable keys that the file
    did not override and that differ from the rebuilt model's are passed as overrides (a file of an earlier
    registration of the model loads as what it was); an override that disagrees with the saved configuration
    is an error.

    ``device``: where to put the model (default CPU). Returns the model in eval mode. A model class that
    is not registered (a user's BaseModel subclass) is found by the ``module:qualname`` the checkpoint
    records, only if that module is already imported.
    """
    ckpt = read_checkpoint(path)
    cls = _model_class(ckpt, path)
    overrides = {k: _as_override(v) for k, v in ckpt["overrides"].items() if k not in _DEVICE_KEYS}
    try:
        model = _rebuild(cls, ckpt, overrides, path)
        today = _normalise(model.config)
    except CheckpointError:  # today's defaults may not even build with these overrides
        model, today = None, _normalise(getattr(cls, "defaults", None) or {})
    # keys the file took from the defaults of its day, where today's differ (e.g. a re-registered zoo model)
    pinned = {k: _as_override(v) for k, v in _normalise(ckpt["config"]).items()
              if k in today and v != today[k] and k not in overrides and k in getattr(cls, "overridable", ())}
    if pinned or model is None:
        model = _rebuild(cls, ckpt, {**overrides, **pinned}, path)
    load_into(model, path, _ckpt=ckpt)
    if device is not None:
        model.to(device)
    return model.eval()


def as_registered(model, name: str):
    """``model``'s trained state in the registered zoo model ``name`` (not an alias), built with the same seed,
    in eval mode.

    For a network trained as another model with overrides (``--set``) and registered under its own name
    afterwards. Both resolved configurations (device aside) must be equal and the state must fit, and the two
    models must give the same class scores on 256 random images; CheckpointError otherwise. The metadata
    gains ``trained_as``: the name and overrides the network was trained under.
    """
    target = MODELS.get(name)(seed=model.seed)
    ours, theirs = _normalise(model.config), _normalise(target.config)
    diff = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
    if diff:
        detail = ", ".join(f"{k}: checkpoint {ours.get(k)!r}, {name} {theirs.get(k)!r}" for k in diff)
        raise CheckpointError(f"{model.model_name!r} (seed {model.seed}) is not {name!r}: {detail}")
    try:
        target.load_state_dict(model.state_dict(), strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"the state of {model.model_name!r} does not fit {name!r}: {e}") from None
    target.eval()
    probe = torch.randint(0, 256, (256, *model.input_shape), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    if not torch.equal(target.class_scores(probe), model.class_scores(probe)):
        raise CheckpointError(f"{name!r} computes another function than {model.model_name!r} with the same state")
    trained_as = {"model": model.model_name, "overrides": to_plain(model.overrides, "overrides")}
    target.checkpoint_metadata = dict(getattr(model, "checkpoint_metadata", None) or {}, trained_as=trained_as)
    return target
