"""Hostile input on this CPU: the figures issue 11's closing note and the README quote.

    .venv/bin/python benchmarks/robustness.py              # everything (~1 minute)
    .venv/bin/python benchmarks/robustness.py --quick      # fewer repeats, no page run

* **refusing a gigantic config**: ``core.experiment.checkpoints.load_model`` on a checkpoint whose
  metadata asks for width 100000 or 100000 residual blocks (the first release built the
  network first: 720 GB asked for, or 35 s and 2.3 GB per try), an in-range config with
  too many parameters, and one whose weights do not fit it. Median of fresh calls.
* **listing**: ``list_checkpoints`` of a 77-file folder, every header checked as the
  loader checks it (config bounds, tensor names, shapes and dtypes).
* **decoding peak memory** per Pillow mode: peak RSS of a fresh process decoding a
  4000 x 4000 file (``core.io.decode.load_image_bytes``), against the bound the decoder
  assumes before decoding (``peak_bytes_per_pixel``); and the issue's 6324 x 6324
  float32 TIFF (once 1.15 GB), now refused from its header.
* **layer lab rerun with an upload**: median ms of a slider move after uploading a
  4000 x 3000 PNG (decoded once, cached by content), beside one decoding of that file
  (what every rerun used to pay).

* **issue 20's cases** (:data:`ROUND3`): time and peak memory, each in a fresh process,
  of every new refusal (a 12500 x 12500 16-bit PNG for ``read_rgb``, a FIFO manifest, a
  non-UTF-8 file name, text in a history's number column, training settings the loader
  refuses, ``--data /proc``, a held run folder) and of the largest input accepted (a
  40 MP RGB PNG for ``read_rgb``); and the audit's (``core.audit.audit_onnx`` on the
  hostile ONNX files of ``tests/hostile/test_hostile_audit.py``: non-finite outputs, a
  corrupt initializer, no output, strides and resize factors over the limit, 20,000
  nodes, a free 256-channel input, and the largest input the probe budget accepts).

* **issue 30's cases** (:data:`ROUND4`; ``--round4`` runs only these): damaged and
  duplicate zip entries, 2^30 nodes of local functions, a Loop of 10^12 iterations, a
  MatMul of two 8192 x 8192 random tensors, an Expand sized by the input's values (the
  command line's and the page's route), 8 MB of metadata, a 480 MiB unused initializer in
  a 490 KB zip, the torch route's caps, a deflated ``.pt`` bomb, ``--json`` onto the
  model's data file, a FIFO and a 13000 x 13000 PNG in the outputs cache, and training
  arguments refused before any file: time, this process's peak and the sandbox child's.

Writes ``benchmarks/results/robustness.json`` (``robustness_round4.json`` with ``--round4``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._common import print_table, write_results  # noqa: E402

MODES = ("1", "L", "P", "P+transparency", "RGB", "RGBA", "LA", "I;16", "I", "F", "CMYK")
SIDE = 4000


def _checkpoint_with(root: Path, name: str, change) -> Path:
    """A tiny good checkpoint whose metadata ``change`` rewrites."""
    import torch

    from core.experiment.checkpoints import METADATA_KEY, save_checkpoint
    from core.experiment.models import TransformNet, TransformNetConfig

    path = root / f"{name}.safetensors"
    torch.manual_seed(0)
    save_checkpoint(path, TransformNet(TransformNetConfig(width=4, res_blocks=1)),
                    {"variant": "deconv3", "epoch": 1})
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = json.loads(header["__metadata__"][METADATA_KEY])
    change(meta)
    header["__metadata__"][METADATA_KEY] = json.dumps(meta)
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n :])
    return path


def refusal_times(repeats: int) -> list[dict]:
    from core.experiment.checkpoints import CheckpointError, load_model

    cases = {
        "width 100000": lambda m: m["config"].update(width=100_000),
        "res_blocks 100000": lambda m: m["config"].update(res_blocks=100_000),
        "width 512, res_blocks 64 (4.9e9 parameters)":
            lambda m: m["config"].update(width=512, res_blocks=64),
        "width 64, res_blocks 8 (weights do not fit)":
            lambda m: m["config"].update(width=64, res_blocks=8),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, change in cases.items():
            path = _checkpoint_with(Path(tmp), label.split()[1], change)
            times, message = [], ""
            for _ in range(repeats):
                t0 = time.perf_counter()
                try:
                    load_model(path)
                except CheckpointError as err:
                    message = err.problem
                times.append((time.perf_counter() - t0) * 1000.0)
            rows.append({"measure": "refuse", "case": label,
                         "median_ms": round(statistics.median(times), 3),
                         "max_ms": round(max(times), 3), "message_chars": len(message),
                         "message": message})
    return rows


def listing_time(repeats: int) -> list[dict]:
    from core.experiment.checkpoints import list_checkpoints

    root = ROOT / "checkpoints"
    times = []
    n = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = len(list_checkpoints(root))
        times.append((time.perf_counter() - t0) * 1000.0)
    return [{"measure": "list", "case": f"list_checkpoints, {n} files, headers checked",
             "median_ms": round(statistics.median(times[1:]), 2),
             "first_ms": round(times[0], 2)}]  # first: imports core.layers, builds shapes


def _make_image(mode: str, path: Path) -> None:
    from PIL import Image

    side = SIDE
    stripes = np.zeros((side, side), np.uint8)
    stripes[::2] = 200
    if mode == "F":
        arr = np.zeros((side, side), np.float32)
        arr[::7, ::5] = 0.5
        Image.fromarray(arr, mode="F").save(path, compression="tiff_adobe_deflate")
    elif mode == "I":
        Image.fromarray(stripes.astype(np.int32) * 300, mode="I").save(
            path, compression="tiff_adobe_deflate")
    elif mode == "I;16":
        Image.fromarray(stripes.astype(np.uint16) * 300).save(path)
    elif mode == "CMYK":
        Image.new("CMYK", (side, side), (0, 50, 0, 0)).save(path,
                                                             compression="tiff_adobe_deflate")
    elif mode.startswith("P"):
        img = Image.fromarray(stripes // 50, mode="L").convert("P")
        img.save(path, **({"transparency": 3} if "transparency" in mode else {}))
    elif mode == "1":
        Image.fromarray(stripes).convert("1").save(path)
    else:
        rgb = np.dstack([stripes, stripes // 2, 255 - stripes])
        img = Image.fromarray(rgb).convert(mode)
        img.save(path)


# VmHWM (the peak resident size of this process image), not ru_maxrss: Linux carries
# ru_maxrss over from the forking parent, which has torch loaded.
_PEAK = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
from core.io.decode import load_image_bytes, ImageLoadError

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

data = open(sys.argv[1], "rb").read()
base = hwm()
t0 = time.perf_counter()
try:
    load_image_bytes(data)
    outcome = "decoded"
except ImageLoadError as err:
    outcome = "refused: " + str(err)[:90]
seconds = time.perf_counter() - t0
print(hwm() - base, seconds, outcome, sep="\t")
"""


def _peak(path: Path) -> tuple[int, float, str]:
    out = subprocess.run([sys.executable, "-c", _PEAK, str(path), str(ROOT)],
                         capture_output=True, text=True, check=True)
    peak, seconds, outcome = out.stdout.strip().split("\t")
    return int(peak), float(seconds), outcome


def decode_memory() -> list[dict]:
    from PIL import Image

    from core.io.decode import peak_bytes_per_pixel

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in MODES:
            suffix = ".tif" if mode in ("F", "I", "CMYK") else ".png"
            path = Path(tmp) / f"{mode.replace(';', '').replace('+', '_')}{suffix}"
            _make_image(mode, path)
            peak, seconds, outcome = _peak(path)
            pil_mode = Image.open(path).mode
            rows.append({"measure": "decode", "case": f"{SIDE}x{SIDE} {mode}",
                         "file_kb": path.stat().st_size // 1024,
                         "peak_mib": round(peak / 2**20), "bytes_per_pixel":
                         round(peak / SIDE**2, 1),
                         "bound_bytes_per_pixel": peak_bytes_per_pixel(pil_mode),
                         "seconds": round(seconds, 2), "outcome": outcome})
        bomb = Path(tmp) / "bomb.tif"
        arr = np.zeros((6324, 6324), np.float32)
        arr[::7, ::5] = 0.5
        Image.fromarray(arr, mode="F").save(bomb, compression="tiff_adobe_deflate")
        del arr
        peak, seconds, outcome = _peak(bomb)
        rows.append({"measure": "decode", "case": "6324x6324 F (the issue's TIFF)",
                     "file_kb": bomb.stat().st_size // 1024, "peak_mib": round(peak / 2**20),
                     "bytes_per_pixel": round(peak / 6324**2, 2),
                     "bound_bytes_per_pixel": peak_bytes_per_pixel("F"),
                     "seconds": round(seconds, 3), "outcome": outcome})
    return rows


def layer_lab_rerun(repeats: int) -> list[dict]:
    from PIL import Image
    from streamlit.testing.v1 import AppTest

    from core.io.decode import load_image_bytes
    from tests.conftest import encode

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:3000, 0:4000]
    photo = np.dstack([x % 256, y % 256, rng.integers(0, 256, (3000, 4000))]).astype(np.uint8)
    data = encode(Image.fromarray(photo), "PNG")
    t0 = time.perf_counter()
    load_image_bytes(data)
    decode_ms = (time.perf_counter() - t0) * 1000.0

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=600)
    at.query_params["lab_input"] = "upload"
    at.query_params["lab_ups"] = ["deconv", "resize_nearest"]
    at.run()
    at.switch_page("pages/layer_lab.py")
    at.run()
    at.file_uploader[0].upload("photo.png", data, "image/png").run()
    if at.exception or at.error:
        raise RuntimeError(f"the page failed: {[e.value for e in [*at.exception, *at.error]]}")
    times = []
    for i in range(repeats):
        slider = at.slider(key="lab_scale")
        t0 = time.perf_counter()
        slider.set_value(3 if i % 2 == 0 else 2).run()
        times.append((time.perf_counter() - t0) * 1000.0)
    return [{"measure": "layer lab", "case": "one decoding of the 4000x3000 PNG upload",
             "median_ms": round(decode_ms)},
            {"measure": "layer lab", "case": "slider move after that upload (page rerun)",
             "median_ms": round(statistics.median(times)), "max_ms": round(max(times))}]


# A case of issue 20 in a fresh process: ``setup`` untimed, then ``work`` timed, its peak
# resident size above the set-up's (VmHWM) and its outcome (a refusal's first words).
_CASE = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
os.chdir(sys.argv[2])

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

{setup}
base = hwm()
t0 = time.perf_counter()
try:
    outcome = "returned: " + str({work})[:60]
except SystemExit as err:
    outcome = f"refused: exit status {err.code}"
except ValueError as err:
    outcome = "refused: " + str(err)[:90]
print(hwm() - base, time.perf_counter() - t0, outcome.replace(chr(10), " "), sep="\t")
"""

#: Imports and a first valid TrainConfig (the upsampler registry's first build on the meta
#: device: seconds on a busy CPU, once per process), so the row times the refusal itself.
_WARM = "from core.experiment.cli import main\nfrom core.experiment.train import TrainConfig\nTrainConfig()"

#: The audit rows' set-up: the hostile ONNX builders of tests/hostile/test_hostile_audit.py,
#: onnx and onnxruntime imported, so a row times the audit itself.
_AUDIT_SETUP = ("import numpy as np\nimport onnxruntime\nfrom onnx import TensorProto\n"
                "from core.audit.onnx_graph import audit_onnx\n"
                "from tests.hostile.test_hostile_audit import (bad_initializer, big_resize, "
                "free_channels, many_nodes, no_output, scaled, stride_deconv)")

#: label -> (setup, timed expression); run in a temporary folder holding ``ck/`` (a tiny
#: checkpoint set) and the files each setup makes.
ROUND3 = {
    "read_rgb: 12500x12500 16-bit PNG (refused from its header)": (
        "from PIL import Image\nfrom core.io.photos import read_rgb\n"
        "Image.new('I;16', (12500, 12500)).save('big16.png')", "read_rgb('big16.png').shape"),
    "read_rgb: 6324x6324 RGB PNG (40 MP, the largest accepted)": (
        "import numpy as np\nfrom PIL import Image\nfrom core.io.photos import read_rgb\n"
        "a = np.zeros((6324, 6324, 3), np.uint8); a[::2] = 200\n"
        "Image.fromarray(a).save('big.png'); del a", "read_rgb('big.png').shape"),
    "read_rgb: float TIFF in [0, 1] (decoded, not black)": (
        "import numpy as np\nfrom PIL import Image\nfrom core.io.photos import read_rgb\n"
        "Image.fromarray(np.tile(np.linspace(0, 1, 1024, dtype=np.float32), (1024, 1)),"
        " mode='F').save('f.tif')", "read_rgb('f.tif').mean()"),
    "build_catalog: manifest.csv is a FIFO (refused, never blocks)": (
        "import os\nfrom core.experiment.catalog import build_catalog\n"
        "os.remove('ck/manifest.csv'); os.mkfifo('ck/manifest.csv')",
        "build_catalog('ck').manifest_problem"),
    "list_checkpoints: a non-UTF-8 file name (listed as broken)": (
        "import os, shutil\nfrom core.experiment.checkpoints import list_checkpoints\n"
        "shutil.copy('ck/deconv3/epoch_001.safetensors', "
        "os.fsdecode(b'ck/deconv3/epoch_\\xff01.safetensors'))",
        "list_checkpoints('ck').query('not ok')['error'].iloc[0]"),
    "read_histories: text in a number column (refused, named)": (
        "from core.experiment.history import read_histories\n"
        "open('ck/deconv3/history.csv', 'w').write('epoch,checkerboard\\n0,lots\\n')",
        "read_histories('ck').attrs['problems']"),
    "training settings: --res-blocks 65 (refused before any work)": (
        _WARM, "main(['--res-blocks', '65'])"),
    "training settings: --crops-per-epoch 1e10 (refused before any work)": (
        _WARM, "main(['--crops-per-epoch', '10000000000'])"),
    "training data: --data /proc (refused while listing)": (
        "from core.io.photos import find_images", "find_images('/proc')"),
    **{f"audit: {label}": (_AUDIT_SETUP + f"\nDATA = {build}", work)
       for label, (build, work) in {
           "NaN output (refused at the first probe)": (
               "scaled(np.nan)", "audit_onnx(DATA).source"),
           "float16 output overflowing to inf (refused)": (
               "scaled(60000.0, TensorProto.FLOAT16, np.float16)", "audit_onnx(DATA).source"),
           "initializer of 8 bytes declared 3x3x3x3 (refused while reading)": (
               "bad_initializer()", "audit_onnx(DATA).source"),
           "no output (refused from the graph)": ("no_output()", "audit_onnx(DATA).source"),
           "ConvTranspose stride 2000 on 16x16 (refused from the shapes)": (
               "stride_deconv(2000, 16)", "audit_onnx(DATA).source"),
           "resize by 4096 (refused from the shapes)": (
               "big_resize(4096)", "audit_onnx(DATA).source"),
           "resize by 4096 computed at run time, --no-probes (refused before running)": (
               "big_resize(4096, computed=True)", "audit_onnx(DATA, probes=False).source"),
           "ConvTranspose stride 1500 on 1x1, --no-probes (refused from the shapes)": (
               "stride_deconv(1500)", "audit_onnx(DATA, probes=False).source"),
           "20,000 nodes in 1.8 MB (refused from the graph)": (
               "many_nodes()", "audit_onnx(DATA, probes=False).source"),
           "70-byte model, free 256-channel input (capped to fit the probe budget)": (
               "free_channels(256)", "audit_onnx(DATA).input_shape"),
           "that model at 1x256x256x256 (refused from the probe budget)": (
               "free_channels(256)", "audit_onnx(DATA, (1, 256, 256, 256)).source"),
           "largest accepted: identity at 1x3x1056x1056 with probes": (
               "free_channels(3)", "audit_onnx(DATA, (1, 3, 1056, 1056)).input_shape"),
       }.items()},
}


def round3_cases() -> list[dict]:
    """Time and peak memory of each refusal of issue 20 and of the largest input each
    surface accepts, each in a fresh process (peak above its imports and set-up)."""
    rows = []
    for label, (setup, work) in ROUND3.items():
        peak, seconds, outcome = _run_case(label, _CASE, setup, work, exit_zero=True)
        rows.append({"measure": "issue 20", "case": label,
                     "ms": round(float(seconds) * 1000, 1),
                     "peak_mib": round(int(peak) / 2**20, 1), "outcome": outcome})
    rows.append(_lock_refusal())  # in-process: a lock needs a second holder
    return rows


def _run_case(label: str, template: str, setup: str, work: str, *, exit_zero: bool
              ) -> list[str]:
    """One case of a round in a fresh process, beside a folder of one small checkpoint
    (``<tmp>/ck``): ``template`` with its set-up and work filled in; the tab-separated
    fields of its last output line. ``exit_zero``: the process must also exit 0."""
    from tests.conftest import make_checkpoints

    with tempfile.TemporaryDirectory() as tmp:
        make_checkpoints(Path(tmp) / "ck", variants=("deconv3",), epochs=1)
        script = template.replace("{setup}", setup).replace("{work}", work)
        out = subprocess.run([sys.executable, "-c", script, str(ROOT), tmp],
                             capture_output=True, text=True, timeout=600)
    if (exit_zero and out.returncode != 0) or not out.stdout.strip():
        raise RuntimeError(f"{label}: {out.stderr[-2000:]}")
    return out.stdout.strip().splitlines()[-1].split("\t")


# Issue 30's cases: as _CASE, with this process's peak reset after the set-up (writing 5
# to /proc/self/clear_refs resets VmHWM, so a set-up that built a large file does not hide
# the work's peak), plus the peak resident size (VmHWM) of the sandbox's child processes,
# sampled every 20 ms by a thread (a child's own peak: its exec started a fresh image).
_CHILD_POLL = r"""
import glob, threading
CHILD = [0]
def _poll():
    while True:
        for path in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
            try:
                pids = open(path).read().split()
            except OSError:
                continue
            for pid in pids:
                try:  # the sandbox once exec'd (before exec a forked child shows our peak)
                    if b"RLIMIT_DATA" not in open(f"/proc/{pid}/cmdline", "rb").read():
                        continue
                    for line in open(f"/proc/{pid}/status"):
                        if line.startswith("VmHWM:"):
                            CHILD[0] = max(CHILD[0], int(line.split()[1]) * 1024)
                except OSError:
                    pass
        time.sleep(0.02)
threading.Thread(target=_poll, daemon=True).start()
open("/proc/self/clear_refs", "w").write("5")
"""
_CASE4 = _CASE.replace("base = hwm()", _CHILD_POLL + "base = hwm()").replace(
    "print(hwm() - base, time.perf_counter() - t0,",
    "seconds = time.perf_counter() - t0\ntime.sleep(0.05)\n"
    "print(CHILD[0], hwm() - base, seconds,")

_A4 = ("import numpy as np, onnxruntime, torch, gc\nfrom core.audit.onnx_graph import audit_onnx, "
       "audit_onnx_files\nfrom core.audit.live import audit_module\n"
       "from tests.hostile.test_hostile_audit4 import *\n")

#: label -> (setup, timed expression), each in a fresh process.
ROUND4 = {
    "zip upload, an entry with a bad CRC (refused)": (
        _A4 + "from core.audit.read import read_upload\nDATA = damaged_zip('crc')",
        "read_upload(DATA)"),
    "zip upload, 'model.onnx' twice (refused)": (
        _A4 + "from core.audit.read import read_upload\nimport io, zipfile, warnings\n"
        "warnings.simplefilter('ignore')\nbuf = io.BytesIO()\n"
        "z = zipfile.ZipFile(buf, 'w'); z.writestr('model.onnx', good()); "
        "z.writestr('model.onnx', good()); z.close()", "read_upload(buf.getvalue())"),
    "31 local functions, 2^30 nodes inlined (refused from the count)": (
        _A4 + "DATA = function_bomb(31)", "audit_onnx(DATA, probes=False).source"),
    "Loop of 10^12 iterations (stopped at the 20 s run budget)": (
        _A4 + "DATA = endless_loop()", "audit_onnx(DATA).source"),
    "RandomNormal 8192x8192 twice, then MatMul (stopped at the run budget)": (
        _A4 + "DATA = random_matmul(8192)", "audit_onnx(DATA).source"),
    "Expand sized by the input's values, 8 GB asked (stopped at the memory budget)": (
        _A4 + "DATA = value_expand(2**31)", "audit_onnx(DATA).source"),
    "same, uploaded as a zip (the page's route)": (
        _A4 + "DATA = zip_of({'model.onnx': value_expand(2**31)})",
        "audit_onnx_files(DATA).source"),
    "8 MB name_scopes metadata (refused from its size)": (
        _A4 + "DATA = with_metadata(\"['\" + 'a' * 8_000_000 + \"']\")",
        "audit_onnx(DATA, probes=False).source"),
    "name_scopes of '-'*100000+'1' (not parsed; audited)": (
        _A4 + "DATA = with_metadata('-' * 100_000 + '1')",
        "len(audit_onnx(DATA, probes=False).layers)"),
    "490 KB zip, unused 480 MiB initializer (refused from the stored bytes)": (
        _A4 + "DATA = unused_initializer_zip(480)", "audit_onnx_files(DATA).source"),
    "local function named ConvTranspose in the standard domain (refused)": (
        _A4 + "DATA = local_convtranspose('')", "audit_onnx(DATA).source"),
    "torch route, --input-shape 1,3,6000,6000 (refused before the forward)": (
        _A4 + "M = torch.nn.ConvTranspose2d(3, 3, 3, stride=2)",
        "audit_module(M, (1, 3, 6000, 6000)).source"),
    "torch route, 600 deconvolutions (refused before the forward)": (
        _A4 + "M = torch.nn.Sequential(*[torch.nn.ConvTranspose2d(1, 1, 3, padding=1) "
        "for _ in range(600)])", "audit_module(M, (1, 1, 64, 64)).source"),
    "--weights: 1 MB deflated .pt unpacking to 1.3 GB (refused from its directory)": (
        _A4 + "from core.audit.importing import read_state_dict\n"
        "deflated_pt('bomb.pt', 1300)", "len(read_state_dict('bomb.pt'))"),
    "--json onto the model's own model.onnx.data (refused before writing)": (
        _A4 + "from core.audit.cli import main\nd, b = unused_external(16)\n"
        "open('m.onnx', 'wb').write(d); open('model.onnx.data', 'wb').write(b)",
        "main(['m.onnx', '--no-probes', '--json', 'model.onnx.data'])"),
    "outputs cache: a FIFO in place of a file (a miss, never waited on)": (
        "import os\nfrom core.experiment.outputs import outputs_path, read_output\n"
        "from core.experiment.checkpoints import checkpoint_path\n"
        "c = checkpoint_path('ck', 'deconv3', 1); p = outputs_path(c)\n"
        "p.parent.mkdir(parents=True, exist_ok=True); os.mkfifo(p)",
        "read_output(c, 'x')"),
    "outputs cache: a 13000x13000 PNG stored (a miss from its header)": (
        "import io, json, hashlib, numpy as np\nfrom PIL import Image\n"
        "from core.io.photos import heldout_images\nfrom core.io.pixels import content_hash\n"
        "from core.experiment.outputs import outputs_path, read_output, write_outputs\n"
        "from core.experiment.checkpoints import checkpoint_path\n"
        "c = checkpoint_path('ck', 'deconv3', 1)\n"
        "img = {'a': np.zeros((64, 64, 3), np.float32)}; write_outputs(c, img)\n"
        "npz = dict(np.load(outputs_path(c))); h = json.loads(bytes(npz['header']))\n"
        "b = io.BytesIO(); Image.new('RGB', (13000, 13000)).save(b, 'PNG')\n"
        "npz['png_0'] = np.frombuffer(b.getvalue(), np.uint8)\n"
        "h['images'][0]['png_sha256'] = hashlib.sha256(b.getvalue()).hexdigest()\n"
        "h['images'][0]['shape'] = [13000, 13000]\n"
        "npz['header'] = np.frombuffer(json.dumps(h).encode(), np.uint8)\n"
        "np.savez(outputs_path(c), **npz); D = content_hash(img['a'])",
        "read_output(c, D)"),
    "accepted: a 3x3/s2 deconvolution at 1x3x16x16 with probes (two sandbox children)": (
        _A4 + "DATA = good()", "audit_onnx(DATA).input_shape"),
    "accepted: identity at 1x3x1056x1056 with probes (round 3's largest)": (
        _A4 + "from tests.hostile.test_hostile_audit import free_channels\n"
        "DATA = free_channels(3)", "audit_onnx(DATA, (1, 3, 1056, 1056)).input_shape"),
    "training: --seed -1 (refused before any file)": (_WARM, "main(['--seed', '-1'])"),
    "training: --output /proc/x (refused before any file)": (
        _WARM, "main(['--output', '/proc/x'])"),
}


def round4_cases() -> list[dict]:
    """Time and peak memory (this process's and the sandbox child's) of each refusal of
    issue 30, each in a fresh process."""
    rows = []
    for label, (setup, work) in ROUND4.items():
        child, peak, seconds, outcome = _run_case(label, _CASE4, setup, work, exit_zero=False)
        rows.append({"measure": "issue 30", "case": label,
                     "ms": round(float(seconds) * 1000, 1),
                     "peak_mib": round(int(peak) / 2**20, 1),
                     "child_peak_mib": round(int(child) / 2**20, 1), "outcome": outcome})
        print(f"  {label}: {rows[-1]['ms']} ms, {rows[-1]['peak_mib']} MiB, child "
              f"{rows[-1]['child_peak_mib']} MiB", flush=True)
    return rows


def _lock_refusal() -> dict:
    import fcntl
    import os

    from core.experiment.runfolder import RunFolderBusy, run_lock

    with tempfile.TemporaryDirectory() as tmp:
        fd = os.open(Path(tmp) / ".train.lock", os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)  # another open file: as a second process would
        t0 = time.perf_counter()
        try:
            with run_lock(tmp):
                outcome = "accepted"
        except RunFolderBusy as err:
            outcome = "refused: " + str(err)[:60]
        ms = (time.perf_counter() - t0) * 1000
        os.close(fd)
    return {"measure": "issue 20", "case": "run folder: a second training on a held "
            "--output (refused)", "ms": round(ms, 3), "peak_mib": 0.0, "outcome": outcome}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no page run")
    parser.add_argument("--round4", action="store_true",
                        help="only issue 30's cases (written to robustness_round4.json)")
    a = parser.parse_args()
    if a.round4:
        rows = round4_cases()
        print()
        print_table(rows, ["case", "ms", "peak_mib", "child_peak_mib", "outcome"])
        path = write_results("robustness_round4", rows)
        print(f"\nwrote {path.relative_to(ROOT)}")
        return
    repeats = 5 if a.quick else 21
    rows = refusal_times(repeats) + listing_time(repeats)
    print_table(rows, ["case", "median_ms", "max_ms", "first_ms", "message_chars"])
    print()
    memory = decode_memory()
    print_table(memory, ["case", "file_kb", "peak_mib", "bytes_per_pixel",
                         "bound_bytes_per_pixel", "seconds", "outcome"])
    rows += memory
    if not a.quick:
        lab = layer_lab_rerun(7)
        print()
        print_table(lab, ["case", "median_ms", "max_ms"])
        rows += lab
    round3 = round3_cases()
    print()
    print_table(round3, ["case", "ms", "peak_mib", "outcome"])
    rows += round3
    round4 = round4_cases()
    print()
    print_table(round4, ["case", "ms", "peak_mib", "child_peak_mib", "outcome"])
    rows += round4
    path = write_results("robustness", rows, repeats=repeats)
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
