"""A user's own module for the command line's ``--module``: import it by path, build it,
load its weights.

``--module my_pkg.models:Generator`` imports the user's code and runs it in the user's
own process, with the user's permissions: it is for the command line only (the
dashboard page never offers it). What runs is only what the user named: the import of
``my_pkg.models`` (and its packages), then the constructor or factory, and only when its
signature accepts the ``--kwargs`` given (checked before the call). Weights are read
before any of that, without unpickling code (safetensors, or
``torch.load(..., weights_only=True)``), and must match the module key for key and shape
for shape before a forward pass runs.

Every refusal is an :class:`~core.audit.limits.AuditError` with a one-line message.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import re
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .limits import MAX_TENSOR_BYTES, AuditError, short_error

#: ``package.module:attribute`` (the attribute may be dotted: ``Outer.build``).
_SPEC = re.compile(r"^(?P<mod>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)"
                   r":(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")
#: Suffixes read as weights, and how.
SAFETENSORS_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".pt", ".pth")
#: Wrappers around a state dict that ``--weights`` unwraps (``{"state_dict": {...}}``).
STATE_DICT_KEYS = ("state_dict", "model")
#: Seed set before a module is built, so a random initialisation is the same every run.
BUILD_SEED = 0


def parse_kwargs(text: str | None) -> dict[str, Any]:
    """``'{"ngf": 64}'`` -> ``{"ngf": 64}``; AuditError unless a JSON object."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise AuditError(f"--kwargs is not JSON: {err.msg} (at character {err.pos})") from err
    if not isinstance(value, dict):
        raise AuditError(f"--kwargs must be a JSON object such as '{{\"ngf\": 64}}', got "
                         f"{type(value).__name__}")
    return value


def add_pythonpath(folders: Sequence[str | Path]) -> list[Path]:
    """Put ``folders`` (each an existing folder) first on ``sys.path``, in the order given."""
    resolved = []
    for folder in folders:
        path = Path(folder).expanduser().resolve()
        if not path.is_dir():
            raise AuditError(f"--pythonpath {folder} is not a folder")
        resolved.append(path)
    for path in reversed(resolved):
        sys.path.insert(0, str(path))
    importlib.invalidate_caches()
    return resolved


@contextlib.contextmanager
def user_code(where: str):
    """Run the user's code (its import, constructor or forward passes) with its prints sent
    to stderr (stdout holds the JSON report), and without letting it choose the exit
    status: a ``SystemExit`` or ``KeyboardInterrupt`` it raises becomes an
    :class:`AuditError` naming ``where`` (exit status 2, one line)."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    except (SystemExit, KeyboardInterrupt) as err:
        raise AuditError(f"{where}: your code raised {_exit_text(err)}; the audit's exit "
                         "status is its own") from err


def _exit_text(err: BaseException) -> str:
    """``SystemExit(0)``, ``SystemExit('config file not found')``, ``KeyboardInterrupt``."""
    if isinstance(err, SystemExit):
        return f"SystemExit({str(err.code)[:120]!r})" if isinstance(err.code, str) else \
            f"SystemExit({err.code})"
    return type(err).__name__


def _import(module_name: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        missing = err.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise AuditError(f"cannot import {module_name}: no module named {missing} on the "
                             f"import path (add your project with --pythonpath DIR)") from err
        raise AuditError(f"importing {module_name} failed: {short_error(err)}") from err
    except Exception as err:  # noqa: BLE001 - the user's module may raise anything
        raise AuditError(f"importing {module_name} failed: {short_error(err)}") from err
    except (SystemExit, KeyboardInterrupt) as err:
        raise AuditError(f"importing {module_name}: your code raised {_exit_text(err)}; the "
                         "audit's exit status is its own") from err


def resolve(spec: str):
    """The object ``spec`` (``package.module:attribute``) names, imported; nothing is
    called."""
    match = _SPEC.match(spec.strip())
    if match is None:
        raise AuditError(f"--module must be package.module:Name (e.g. my_pkg.models:Generator), "
                         f"got {spec!r}")
    obj = _import(match["mod"])
    where = match["mod"]
    for part in match["attr"].split("."):
        if not hasattr(obj, part):
            raise AuditError(f"{where} has no attribute {part!r}")
        obj = getattr(obj, part)
        where = f"{where}.{part}" if where != match["mod"] else f"{where}:{part}"
    return obj


def source_file(spec: str) -> Path | None:
    """The source file of ``spec``'s module, once imported (None when unknown)."""
    match = _SPEC.match(spec.strip())
    module = sys.modules.get(match["mod"]) if match else None
    path = getattr(module, "__file__", None)
    return Path(path) if path else None


def build_module(spec: str, kwargs: Mapping[str, Any] | None = None):
    """Import ``spec`` and build the ``torch.nn.Module`` it names: a class or a factory
    called with ``kwargs`` (after ``torch.manual_seed(BUILD_SEED)``), or a module
    instance as is. The call is made only when the signature accepts ``kwargs``."""
    kwargs = dict(kwargs or {})
    obj = resolve(spec)
    import torch

    if isinstance(obj, torch.nn.Module):
        if kwargs:
            raise AuditError(f"{spec} is a module instance, not a class or factory: it takes no "
                             f"--kwargs")
        return obj
    if not callable(obj):
        raise AuditError(f"{spec} is a {type(obj).__name__}, not a torch.nn.Module class or a "
                         f"function that returns one")
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # some builtins have none: let the call decide
        signature = None
    if signature is not None:
        try:
            signature.bind(**kwargs)
        except TypeError as err:
            hint = (" (give them with --kwargs '{\"name\": value}')" if "missing" in str(err)
                    else "")
            raise AuditError(f"{spec} cannot be built with "
                             f"{'--kwargs ' + json.dumps(kwargs) if kwargs else 'no arguments'}: "
                             f"{err}{hint}") from err
    torch.manual_seed(BUILD_SEED)
    try:
        module = obj(**kwargs)
    except Exception as err:  # noqa: BLE001 - the user's constructor may raise anything
        raise AuditError(f"building {spec} failed: {short_error(err)}") from err
    if not isinstance(module, torch.nn.Module):
        raise AuditError(f"{spec} returned a {type(module).__name__}, not a torch.nn.Module")
    return module


def _is_tensor_mapping(value) -> bool:
    import torch

    return isinstance(value, Mapping) and bool(value) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


def check_weights_path(path: str | Path) -> Path:
    """``path`` if it is a file with a suffix :func:`read_state_dict` reads (nothing read
    yet)."""
    path = Path(path)
    if not path.is_file():
        raise AuditError(f"--weights {path}: no such file")
    if path.suffix.lower() not in SAFETENSORS_SUFFIXES + TORCH_SUFFIXES:
        raise AuditError(f"--weights {path.name}: only "
                         f"{', '.join(SAFETENSORS_SUFFIXES + TORCH_SUFFIXES)} files are read")
    size = path.stat().st_size
    if size > MAX_TENSOR_BYTES:
        raise AuditError(f"--weights {path.name} is {size / 2**20:,.1f} MiB, over the "
                         f"{MAX_TENSOR_BYTES // 2**20:,} MiB of weights the audit reads")
    if path.suffix.lower() in TORCH_SUFFIXES:
        check_torch_archive(path)
    return path


#: Most a ``.pt`` member may inflate per byte stored (torch stores its tensors
#: uncompressed; a deflated member that grows more than this is a zip bomb).
MAX_INFLATE_RATIO = 100


def check_torch_archive(path: Path) -> None:
    """From the zip directory of a ``.pt``/``.pth`` file, before anything is inflated:
    its members' declared sizes together at most :data:`MAX_TENSOR_BYTES`, each deflated
    member at most :data:`MAX_INFLATE_RATIO` times its stored size (plus 1 MiB). A file
    that is not a zip (the legacy format) is left to ``torch.load``'s own checks."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    total = sum(i.file_size for i in infos)
    if total > MAX_TENSOR_BYTES:
        raise AuditError(f"--weights {path.name} unpacks to {total / 2**20:,.1f} MiB, over the "
                         f"{MAX_TENSOR_BYTES // 2**20:,} MiB of weights the audit reads")
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED and \
                info.file_size > MAX_INFLATE_RATIO * info.compress_size + 2**20:
            raise AuditError(f"--weights {path.name}: its entry {info.filename!r} inflates "
                             f"from {info.compress_size:,} to {info.file_size:,} bytes, over "
                             f"{MAX_INFLATE_RATIO}x: refused before inflating")


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """The tensors of a ``.safetensors`` file, or of a ``.pt``/``.pth`` state dict read with
    ``torch.load(weights_only=True)`` (a pickle holding code is refused, not run)."""
    import pickle

    import torch

    path = check_weights_path(path)
    if path.suffix.lower() in SAFETENSORS_SUFFIXES:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path), device="cpu"))
        except (SafetensorError, OSError, ValueError) as err:
            raise AuditError(f"--weights {path.name} is not a readable safetensors file: "
                             f"{short_error(err)}") from err
    try:
        with warnings.catch_warnings():  # e.g. about the pickle protocol: one line only
            warnings.simplefilter("ignore")
            value = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        what = f" (it names {found.group(1)})" if found else ""
        raise AuditError(f"--weights {path.name} holds more than tensors{what}; "
                         f"torch.load(weights_only=True) would not unpickle it, and nor do we "
                         f"(save model.state_dict() or use safetensors)") from err
    except Exception as err:  # noqa: BLE001 - a damaged file raises many kinds
        raise AuditError(f"--weights {path.name} is not a readable torch file: "
                         f"{short_error(err)}") from err
    if not _is_tensor_mapping(value) and isinstance(value, Mapping):
        for key in STATE_DICT_KEYS:
            if _is_tensor_mapping(value.get(key)):
                value = value[key]
                break
    if not _is_tensor_mapping(value):
        raise AuditError(f"--weights {path.name} is not a state dict (a mapping of names to "
                         f"tensors, or one under {' or '.join(map(repr, STATE_DICT_KEYS))})")
    return dict(value)


def _listed(names: Sequence[str], most: int = 3) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" (+{len(names) - most} more)" if len(names) > most else "")


def load_weights(module, state: Mapping[str, Any], path: str | Path,
                 spec: str = "the module") -> None:
    """Load ``state`` (read from ``path`` by :func:`read_state_dict`) into ``module`` after
    checking that every key and shape matches."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} is {tuple(state[k].shape)} in the file, {tuple(v.shape)} in the module"
              for k, v in expected.items() if k in state and state[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"missing {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected {_listed(unexpected)}")
    if shapes:
        problems.append(f"shape of {_listed(shapes, 2)}")
    if problems:
        raise AuditError(f"--weights {Path(path).name} does not match {spec}: "
                         + "; ".join(problems))
    try:
        module.load_state_dict(state, strict=True)
    except Exception as err:  # noqa: BLE001 - e.g. a dtype that cannot be copied
        raise AuditError(f"loading --weights {Path(path).name} into {spec} failed: "
                         f"{short_error(err)}") from err
