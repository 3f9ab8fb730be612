"""Benchmark: how long the network audit takes.

    .venv/bin/python benchmarks/audit.py [--repeats 3]

Goals (issue 12): auditing a 50 MB ONNX model (analysis, without probes) under 5 s;
the probes at 256x256 on our models under 5 s. Issue 19: the zoo of published networks
(tests/core/audit_zoo/) audited on both routes, the live module and its ONNX export by
each exporter (analysis, no probes); and ``python -m core.audit MODEL.onnx --no-probes``
from a cold start (a new process, imports included) under 2 s, without importing torch.
``--zoo`` runs only the issue-19 rows (written to benchmarks/results/audit_zoo.json). The 50 MB model is the DCGAN generator
at width 128 (12.6 M parameters), exported here with the lab's exporter; our models are
the last stored checkpoint of every variant, exported to ONNX. Each figure is the
median of ``--repeats`` runs after one warm-up (the first parse, session and imports).
Prints a table and writes benchmarks/results/audit.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks._common import print_table, write_results  # noqa: E402
from core.audit.examples import (  # noqa: E402
    EXAMPLES,
    dcgan_generator,
    example_model,
    example_names,
    export_onnx,
)
from core.audit.onnx_graph import audit_onnx  # noqa: E402

GOAL_ANALYSIS_S = 5.0
GOAL_COLD_CLI_S = 2.0
GOAL_PROBES_S = 5.0
SIDE = 256


def _median_seconds(fn, repeats: int) -> tuple[float, object]:
    result = fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench_large(repeats: int) -> dict:
    torch.manual_seed(0)
    data = export_onnx(dcgan_generator(ngf=128), (1, 100, 1, 1))
    seconds, report = _median_seconds(lambda: audit_onnx(data, probes=False), repeats)
    return {"what": "analysis, no probes", "model": "DCGAN generator, width 128",
            "onnx_MB": round(len(data) / 1e6, 1), "input": "1x100x1x1",
            "layers": len(report.layers), "median_s": round(seconds, 3),
            "goal_s": GOAL_ANALYSIS_S, "meets_goal": seconds < GOAL_ANALYSIS_S}


def bench_probes(repeats: int) -> list[dict]:
    rows = []
    ours = [n for n in example_names(ROOT / "checkpoints") if n not in EXAMPLES]
    for name in [*ours, *EXAMPLES]:
        module, shape, title = example_model(name, checkpoints=ROOT / "checkpoints")
        data = export_onnx(module, shape, dynamic_size=name not in EXAMPLES)

        def run(data=data, shape=shape):
            return audit_onnx(data, shape)

        report = run()  # warm-up
        probe_times, total_times = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            report = run()
            total_times.append(time.perf_counter() - start)
            probe_times.append(report.seconds["probes"])
        probes = statistics.median(probe_times)
        ours_row = name not in EXAMPLES
        rows.append({
            "what": "probes" + (f" at {SIDE}x{SIDE}" if ours_row else ""), "model": title,
            "onnx_MB": round(len(data) / 1e6, 1), "input": "x".join(map(str, shape)),
            "layers": len(report.layers), "offending": len(report.offending),
            "checkerboard_e3": round(report.probes.checkerboard_score * 1e3, 2),
            "median_s": round(probes, 3), "total_s": round(statistics.median(total_times), 3),
            "goal_s": GOAL_PROBES_S if ours_row else None,
            "meets_goal": probes < GOAL_PROBES_S if ours_row else None,
        })
    return rows


def _export(module, shape, dynamo: bool, folder: Path) -> Path:
    from tests.core.audit_zoo import quiet_export

    path = folder / ("dynamo.onnx" if dynamo else "torchscript.onnx")
    quiet_export(module, shape, str(path), dynamo)
    return path


def bench_zoo(repeats: int) -> list[dict]:
    """Each zoo network, both shelves (issue 19's and issue 27's), on every route it has:
    analysis only (no probes), median s."""
    import tempfile

    from core.audit.live import audit_module
    from tests.core.audit_zoo import ZOO
    from tests.core.audit_zoo.shelf2 import SHELF2

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, net in {**ZOO, **SHELF2}.items():
            torch.manual_seed(0)
            module = net.build().eval()
            routes = {"torch": lambda m=module, s=net.input_shape: audit_module(m, s,
                                                                               probes=False)}
            for dynamo in (False, True):
                folder = Path(tmp) / f"{name}-{int(dynamo)}"
                folder.mkdir()
                try:
                    start = time.perf_counter()
                    path = _export(module, net.input_shape, dynamo, folder)
                    export_s = time.perf_counter() - start
                except Exception as err:  # noqa: BLE001 - the exporters' limits are the finding
                    rows.append({"what": "zoo", "model": name,
                                 "route": "dynamo" if dynamo else "torchscript",
                                 "layers": None, "offending": None, "median_s": None,
                                 "export_s": None,
                                 "note": f"export fails: {type(err).__name__}"})
                    continue
                routes["dynamo" if dynamo else "torchscript"] = (
                    lambda p=path: audit_onnx(p, probes=False), export_s)
            for route, job in routes.items():
                fn, export_s = job if isinstance(job, tuple) else (job, None)
                seconds, report = _median_seconds(fn, repeats)
                rows.append({"what": "zoo", "model": name, "route": route,
                             "layers": len(report.layers), "offending": len(report.offending),
                             "blurred": sum(1 for la in report.layers if la.blur),
                             "period": report.chain.period, "median_s": round(seconds, 4),
                             "export_s": None if export_s is None else round(export_s, 2)})
    return rows


def _zoo_exports(folder: Path) -> dict[str, Path]:
    """The TorchScript export of every zoo network (both shelves) that exports."""
    from tests.core.audit_zoo import ZOO
    from tests.core.audit_zoo.shelf2 import SHELF2

    paths = {}
    for name, net in {**ZOO, **SHELF2}.items():
        if not net.torchscript:
            continue
        torch.manual_seed(0)
        sub = folder / name
        sub.mkdir()
        try:
            paths[name] = _export(net.build().eval(), net.input_shape, False, sub)
        except Exception:  # noqa: BLE001 - an exporter's limit: that network is not timed
            continue
    return paths


def bench_cold_cli(repeats: int) -> list[dict]:
    """``python -m core.audit MODEL.onnx --no-probes`` in a fresh process, wall time, on the
    zoo's largest networks (the most ONNX nodes, and the largest file, of both shelves),
    side by side with a bare ``python -c pass`` and ``python -c "import onnx"`` in the same
    rounds (the order rotated each round; the first round warms the disk cache and is
    dropped). Median of ``repeats``; each row also gives its ratio to both."""
    import subprocess
    import tempfile

    import onnx

    code = ("import runpy, sys; sys.argv = ['core.audit', sys.argv[1], '--no-probes', "
            "'--json', sys.argv[2]]; "
            "rc = 0\ntry:\n    runpy.run_module('core.audit', run_name='__main__')\n"
            "except SystemExit as e:\n    rc = e.code or 0\n"
            "print(int('torch' in sys.modules), rc)")
    with tempfile.TemporaryDirectory() as tmp:
        paths = _zoo_exports(Path(tmp))
        nodes = {n: len(onnx.load(str(p), load_external_data=False).graph.node)
                 for n, p in paths.items()}
        kbytes = {n: round(p.stat().st_size / 1e3) for n, p in paths.items()}
        picks = dict.fromkeys([max(nodes, key=nodes.get),
                               max(paths, key=kbytes.get)])
        jobs = {"python -c pass": [sys.executable, "-c", "pass"],
                "python -c 'import onnx'": [sys.executable, "-c", "import onnx"]}
        for name in picks:
            jobs[name] = [sys.executable, "-c", code, str(paths[name]),
                          str(Path(tmp) / f"{name}.json")]
        times: dict[str, list[float]] = {k: [] for k in jobs}
        torch_seen: dict[str, bool] = {}
        order = list(jobs)
        for i in range(repeats + 1):
            for key in order[i % len(order):] + order[:i % len(order)]:
                start = time.perf_counter()
                out = subprocess.run(jobs[key], cwd=ROOT, capture_output=True, text=True,
                                     check=True)
                if i:
                    times[key].append(time.perf_counter() - start)
                if key in picks:
                    torch_seen[key] = out.stdout.split()[-2] == "1"
    bare = statistics.median(times["python -c pass"])
    onnx_s = statistics.median(times["python -c 'import onnx'"])
    rows = [{"what": "cold start, bare", "model": "python -c pass", "route": None,
             "median_s": round(bare, 3)},
            {"what": "cold start, onnx imported", "model": "python -c 'import onnx'",
             "route": None, "median_s": round(onnx_s, 3), "bare_python_s": round(bare, 3),
             "x_bare": round(onnx_s / bare, 1)}]
    for name in picks:
        seconds = statistics.median(times[name])
        rows.append({"what": "cold CLI, no probes", "model": name, "route": "torchscript",
                     "onnx_nodes": nodes[name], "onnx_kB": kbytes[name],
                     "median_s": round(seconds, 3), "bare_python_s": round(bare, 3),
                     "x_bare": round(seconds / bare, 1),
                     "x_import_onnx": round(seconds / onnx_s, 2),
                     "goal_s": GOAL_COLD_CLI_S, "meets_goal": seconds < GOAL_COLD_CLI_S,
                     "imports_torch": torch_seen[name]})
    return rows


def bench_grid() -> dict:
    """The data behind the grid check's threshold (core.audit.limits.GRID_RATIO, GRID_Z):
    every zoo network (both shelves) probed on the live module at its input shape (image
    inputs at 64x64), its strongest period by ratio to the photograph's own and by z,
    next to its structural verdict; and the photographs' own z at periods 2-8."""
    from core.audit.live import audit_module
    from core.audit.probes import grid_significance
    from core.io.photos import read_rgb, resize_center_crop, skimage_data_dir
    from tests.core.audit_zoo import ZOO
    from tests.core.audit_zoo.shelf2 import SHELF2

    rows = []
    for name, net in {**ZOO, **SHELF2}.items():
        torch.manual_seed(0)
        shape = list(net.input_shape)
        if shape[2] >= 16:
            shape[2] = shape[3] = 64
        report = audit_module(net.build().eval(), shape, measure=False)
        grid = report.probes.grid if report.probes else {}
        if not grid:
            continue
        by_ratio = max(grid, key=lambda p: grid[p]["ratio"])
        by_z = max(grid, key=lambda p: grid[p]["z"])
        rows.append({"model": name, "offending_layers": len(report.offending),
                     "probe": report.probes.scored_on, "verdict": report.verdict,
                     "max_ratio": grid[by_ratio]["ratio"], "at_period": by_ratio,
                     "max_z": grid[by_z]["z"], "z_at_period": by_z})
    photos = []
    folder = skimage_data_dir()
    for file in ("astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg",
                 "ihc.png", "motorcycle_left.png", "retina.jpg", "rocket.jpg", "brick.png",
                 "camera.png", "coins.png", "grass.png", "gravel.png", "moon.png", "page.png",
                 "text.png"):
        image = resize_center_crop(read_rgb(folder / file), 256).astype(np.float64) / 255
        photos.append({"photograph": file, "max_z": round(max(
            grid_significance(image, p) for p in range(2, 9)), 3)})
    return {"networks": rows, "photographs": photos}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--zoo", action="store_true",
                        help="only the zoo rows (issues 19 and 27)")
    parser.add_argument("--cold", action="store_true",
                        help="only the cold command line beside a bare python (issue 27; "
                             "median of --repeats, use 5)")
    parser.add_argument("--grid", action="store_true",
                        help="only the grid check's threshold data (issue 27)")
    args = parser.parse_args()
    if args.grid:
        data = bench_grid()
        print_table(data["networks"], ["model", "offending_layers", "probe", "verdict",
                                       "max_ratio", "at_period", "max_z", "z_at_period"])
        print_table(data["photographs"], ["photograph", "max_z"])
        path = write_results("audit_grid", data["networks"], photographs=data["photographs"])
        print(f"\nwrote {path.relative_to(ROOT)}")
        return
    if args.cold:
        rows = bench_cold_cli(args.repeats)
        print_table(rows, ["what", "model", "onnx_nodes", "onnx_kB", "median_s",
                           "bare_python_s", "x_bare", "x_import_onnx", "goal_s", "meets_goal",
                           "imports_torch"])
        path = write_results("audit_cold", rows, goals={"cold_cli_s": GOAL_COLD_CLI_S},
                             repeats=args.repeats)
        print(f"\nwrote {path.relative_to(ROOT)}")
        return
    zoo_rows = [*bench_zoo(args.repeats), *bench_cold_cli(args.repeats)]
    print_table(zoo_rows, ["what", "model", "route", "layers", "offending", "blurred",
                           "period", "median_s", "export_s", "goal_s", "meets_goal",
                           "imports_torch", "note"])
    if args.zoo:
        path = write_results("audit_zoo", zoo_rows, goals={"cold_cli_s": GOAL_COLD_CLI_S},
                             repeats=args.repeats)
        print(f"\nwrote {path.relative_to(ROOT)}")
        return
    rows = [bench_large(args.repeats), *bench_probes(args.repeats), *zoo_rows]
    print_table(rows, ["what", "model", "onnx_MB", "input", "layers", "median_s", "total_s",
                       "goal_s", "meets_goal"])
    path = write_results("audit", rows, goals={"analysis_50MB_s": GOAL_ANALYSIS_S,
                                               "probes_256_s": GOAL_PROBES_S,
                                               "cold_cli_s": GOAL_COLD_CLI_S},
                         repeats=args.repeats)
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
