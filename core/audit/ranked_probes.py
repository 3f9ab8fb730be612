"""Probes and measured fixes of the 1-D and 3-D audit (:mod:`core.audit.ranked`).

**Sounds** ``(N, C, L)``: the network runs on a signal like the ones these networks make
(:mod:`core.io.sounds`: a sum of harmonics with noise, speech-like bursts, generated, in
every input channel) and on smooth noise; each output is scored at the network's period
(:func:`core.maths.metrics.checkerboard_score` with ``dims=1``) and its spectrum kept, with
the artifact frequencies ``k / P`` marked (``k * rate / P`` Hz at the output's rate). The
score is compared with the one a clean generated sound of the output's length reads: a
grid is measured when it is :data:`~core.audit.limits.GRID_RATIO` times that.

**Volumes** ``(N, C, D, H, W)``: smooth noise in; the output scored as the 2-D probes score
images, slice by slice along depth (the mean over slices), and along depth (every
``(h, w)`` line a channel of a 1-D signal) where the depth is long enough.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..maths.metrics import checkerboard_score, log_power_spectrum, to_unit_range
from ..maths.overlap import conv_transpose_output_size
from .limits import GRID_RATIO, AuditError, short_error
from .report import AuditReport, ProbeReport, ProbeResult, json_safe

#: The sample rate a sound probe is made at (its length is the input's).
PROBE_RATE = 8000


def _smooth(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Band-limited noise in [0, 1] over the leading (spatial) axes of ``shape``."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(shape)
    axes = tuple(range(len(shape) - 1))
    spectrum = np.fft.fftn(white, axes=axes)
    grids = np.meshgrid(*[np.fft.fftfreq(n) for n in shape[:-1]], indexing="ij")
    lowpass = np.exp(-sum(g ** 2 for g in grids) / (2 * (1 / 16) ** 2))[..., None]
    smooth = np.real(np.fft.ifftn(spectrum * lowpass, axes=axes))
    smooth = (smooth - smooth.mean()) / (smooth.std() + 1e-12)
    return np.clip(0.5 + 0.15 * smooth, 0.0, 1.0)


def _sound(kind: str, length: int, channels: int, seed: int) -> np.ndarray:
    """A generated sound of ``length`` samples in every channel, ``(L, C)`` around 0.5."""
    from ..io.sounds import MIN_RATE, make_sound

    rate = max(PROBE_RATE, MIN_RATE)
    x = make_sound(kind, rate, max(length, 1) / rate, freq=330.0, seed=seed)[:length]
    return np.repeat((0.5 + 0.45 * x.astype(np.float64))[:, None], channels, axis=1)


def probe_inputs(shape: Sequence[int], seed: int = 0) -> dict[str, np.ndarray]:
    """The probes' inputs, channels last: ``(L, C)`` for a sound, ``(D, H, W, C)`` a volume."""
    spatial, c = tuple(int(v) for v in shape[2:]), int(shape[1])
    if len(spatial) == 1:
        return {"harmonics": _sound("harmonics", spatial[0], c, seed),
                "speech": _sound("speech", spatial[0], c, seed),
                "smooth noise": _smooth((*spatial, c), seed)}
    return {"smooth noise": _smooth((*spatial, c), seed)}


def probe_input(shape: Sequence[int], seed: int = 0) -> np.ndarray:
    """The first probe as a batch ``(N, C, ...)`` float32 (the live module is traced on it)."""
    first = next(iter(probe_inputs(shape, seed).values()))
    batch = np.moveaxis(first, -1, 0)[None]
    return np.repeat(batch, int(shape[0]), axis=0).astype(np.float32)


def _scores(out: np.ndarray, period: int) -> tuple[float | None, dict[str, float]]:
    """The headline score of one output (channels last) and its parts."""
    dims = out.ndim - 1
    parts: dict[str, float] = {}
    if period < 2:
        return None, parts
    if dims == 1:
        if out.shape[0] >= 4 * period:
            parts["along the signal"] = checkerboard_score(out, period, dims=1)
    else:
        d, h, w = out.shape[:3]
        if min(h, w) >= 4 * period:
            parts["slices (H, W)"] = float(np.mean([checkerboard_score(out[i], period)
                                                    for i in range(d)]))
        if d >= 4 * period:
            lines = out.reshape(d, -1)  # every (h, w, c) a channel of a 1-D signal
            parts["along depth"] = checkerboard_score(lines, period, dims=1)
    return (max(parts.values()) if parts else None), parts


def run_ranked_probes(run: Callable[[np.ndarray], np.ndarray], shape: Sequence[int],
                      period: int, *, seed: int = 0) -> ProbeReport:
    """Every probe through ``run`` (a batch ``(N, C, ...)`` in, the output batch out),
    scored at ``period``; the report's score is the first probe's (the sound probe of a
    1-D network, smooth noise for a volume)."""
    results: dict[str, ProbeResult] = {}
    notes: list[str] = []
    grid: dict[int, dict[str, Any]] = {}
    n = int(shape[0])
    for name, x in probe_inputs(shape, seed).items():
        batch = np.repeat(np.moveaxis(x, -1, 0)[None], n, axis=0).astype(np.float32)
        y = np.asarray(run(batch), dtype=np.float64)
        if y.ndim != len(shape) or not np.all(np.isfinite(y)):
            raise AuditError(f"the {name} probe's output has shape {y.shape} or non-finite "
                             f"values; the audit reads a finite {len(shape)}-D tensor")
        out = to_unit_range(np.moveaxis(y[0], 0, -1))  # channels last, min-max scaled
        score, parts = _scores(out, period)
        spectrum = None
        if out.ndim == 2 and period >= 2 and out.shape[0] >= 2:
            spectrum = log_power_spectrum(out, period, dims=1)
        results[name] = ProbeResult(name, x, out, "min-max", score, spectrum, None)
        if parts and len(parts) > 1:
            notes.append(f"{name}: " + ", ".join(f"{k} {v:.3g}" for k, v in parts.items()))
    first = next(iter(results))
    score = results[first].score
    if score is None:
        notes.append(f"the output is shorter than 4 periods of {period}: not scored")
    elif len(shape) == 3:
        clean = _sound(first, results[first].output.shape[0], 1, seed + 1)
        reference = checkerboard_score(to_unit_range(clean), period, dims=1)
        ratio = score / reference if reference > 0 else float("inf")
        grid[period] = {"score": score, "photograph": reference, "ratio": ratio, "z": None,
                        "grid": bool(ratio >= GRID_RATIO)}
        notes.append(f"a clean generated {first} sound of the output's length reads "
                     f"{reference:.3g} at period {period}; the output {score:.3g} "
                     f"({ratio:.1f}x)")
    return ProbeReport(period=period, results=results, scored_on=first if score is not None
                       else None, checkerboard_score=score, shift_psnr={},
                       shift_reference=None,
                       shift_note="the shift test runs on images only", notes=notes, grid=grid)


def onnx_runner(data: bytes, input_name: str, output_name: str | list[str],
                shape: Sequence[int], threads: int | None = None) -> Callable:
    """``run(batch)`` through an onnxruntime session of the model: the output named, or the
    list of outputs for a list of names."""
    import onnxruntime as ort

    names = output_name if isinstance(output_name, list) else [output_name]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 - onnxruntime raises its own types
        raise AuditError(f"onnxruntime cannot load the model ({short_error(err)})") from err

    def run(x: np.ndarray) -> np.ndarray:
        try:
            outs = session.run(names, {input_name: x.astype(np.float32)})
            return outs if isinstance(output_name, list) else outs[0]
        except Exception as err:  # noqa: BLE001
            raise AuditError(f"onnxruntime cannot run the model at input shape "
                             f"{','.join(map(str, shape))} ({short_error(err)})") from err

    return run


# ---------------------------------------------------------------------------------------
# Measured fixes (live modules)
# ---------------------------------------------------------------------------------------


def resize_conv_fix(conv_t, seed: int = 0):
    """The resize-convolution replacing a ``ConvTranspose1d``/``3d``: nearest upsampling by
    its stride, an odd ``nn.Conv1d``/``nn.Conv3d`` of about its kernel, cropped or
    zero-padded to the transposed convolution's output size."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    d = len(conv_t.stride)
    conv_cls = {1: nn.Conv1d, 3: nn.Conv3d}[d]

    class ResizeConvFix(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.size_args = (conv_t.stride, conv_t.padding, conv_t.kernel_size,
                              conv_t.dilation, conv_t.output_padding)
            k = max(conv_t.kernel_size)
            k = k if k % 2 else max(1, k - 1)
            self.upsample = nn.Upsample(scale_factor=tuple(float(s) for s in conv_t.stride),
                                        mode="nearest")
            self.conv = conv_cls(conv_t.in_channels, conv_t.out_channels, k, padding=k // 2,
                                 groups=conv_t.groups, bias=conv_t.bias is not None)

        def forward(self, x, *args, **kwargs):  # (N, C, *spatial)
            stride, padding, kernel, dilation, out_pad = self.size_args
            target = [conv_transpose_output_size(int(n), k, s, p, dl, op, validate=False)
                      for n, s, p, k, dl, op in
                      zip(x.shape[2:], stride, padding, kernel, dilation, out_pad, strict=True)]
            y = self.conv(self.upsample(x))
            pads = []
            for axis in reversed(range(d)):
                pads += [0, target[axis] - y.shape[2 + axis]]
            return F.pad(y, pads)  # negative pads crop

    torch.manual_seed(seed)
    return ResizeConvFix()


def _set_module(root, path: str, new) -> None:
    parent = root
    *parents, last = path.split(".")
    for part in parents:
        parent = getattr(parent, part) if not part.isdigit() else parent[int(part)]
    if last.isdigit():
        parent[int(last)] = new
    else:
        setattr(parent, last, new)


def measure_ranked_fixes(module, shape: Sequence[int], found: Sequence, report: AuditReport,
                         *, seed: int = 0) -> tuple[dict[str, dict], dict | None]:
    """For each offending transposed convolution with an ``nn`` layer: the probe's score of
    the network as given, with that layer re-initialised, and with it swapped for
    :func:`resize_conv_fix` (at initialisation); the same format as the 2-D audit's.
    Returns ``(by layer name, every swappable layer fixed together or None)``."""
    import torch
    from torch import nn

    probes = report.probes
    name = probes.scored_on
    x = probes.results[name].input
    batch = np.repeat(np.moveaxis(x, -1, 0)[None], int(shape[0]), axis=0).astype(np.float32)
    period = probes.period

    def score_of(model) -> float | None:
        with torch.no_grad():
            y = model(torch.from_numpy(batch)).double().numpy()
        return _scores(to_unit_range(np.moveaxis(y[0], 0, -1)), period)[0]

    by_name = {f.name: f for f in found}
    out: dict[str, dict] = {}
    for layer in report.layers:
        f = by_name.get(layer.name)
        if not layer.offending or f is None:
            continue
        entry: dict[str, Any] = {"as_given": probes.checkerboard_score, "probe": name,
                                 "period": period}
        conv_t = f.module
        if f.op == "DepthToSpace":
            entry["fix"] = ("not swappable automatically (a pixel shuffle: run its fix code, "
                            "ICNR, on the convolution feeding it)")
            out[layer.name] = json_safe(entry)
            continue
        if not isinstance(conv_t, (nn.ConvTranspose1d, nn.ConvTranspose3d)) or not f.module_path:
            entry["fix"] = "not swappable automatically (a functional call, no nn layer)"
            out[layer.name] = json_safe(entry)
            continue
        original, fixed = copy.deepcopy(module), copy.deepcopy(module)
        torch.manual_seed(seed)
        fresh = copy.deepcopy(conv_t)
        for p in fresh.parameters():
            if p.dim() > 1:
                nn.init.kaiming_uniform_(p, a=5 ** 0.5)
        _set_module(original, f.module_path, fresh)
        _set_module(fixed, f.module_path, resize_conv_fix(conv_t, seed))
        nd = f"{len(conv_t.stride)}d"
        try:
            entry.update(original_at_init=score_of(original), fixed_at_init=score_of(fixed),
                         fix=f"nn.Upsample + nn.Conv{nd} (resize-convolution)")
        except Exception as err:  # noqa: BLE001 - the user's forward may raise anything
            entry["fix"] = f"the swapped network does not run ({short_error(err, 160)})"
        out[layer.name] = json_safe(entry)
    swappable = [(layer, by_name[layer.name]) for layer in report.layers
                 if layer.name in out and "fixed_at_init" in out[layer.name]]
    together = None
    if len(swappable) > 1:
        original, fixed = copy.deepcopy(module), copy.deepcopy(module)
        for i, (_, f) in enumerate(swappable):
            torch.manual_seed(seed + i)
            fresh = copy.deepcopy(f.module)
            for p in fresh.parameters():
                if p.dim() > 1:
                    nn.init.kaiming_uniform_(p, a=5 ** 0.5)
            _set_module(original, f.module_path, fresh)
            _set_module(fixed, f.module_path, resize_conv_fix(f.module, seed + i))
        try:
            together = json_safe({"as_given": probes.checkerboard_score, "probe": name,
                                         "period": period,
                                         "original_at_init": score_of(original),
                                         "fixed_at_init": score_of(fixed),
                                         "fix": f"{len(swappable)} layers fixed together"})
        except Exception as err:  # noqa: BLE001
            together = {"fix": f"the swapped network does not run ({short_error(err, 160)})"}
    return out, together

