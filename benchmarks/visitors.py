"""Speed as a person feels it: real Chromium visitors on a fresh dashboard server.

    .venv/bin/python benchmarks/visitors.py                  # 10 visitors, the shipped checkpoints
    .venv/bin/python benchmarks/visitors.py --visitors 4     # fewer (quicker)
    .venv/bin/python benchmarks/visitors.py --root DIR       # another checkpoint folder

Starts ``streamlit run dashboard.py`` the way ``make run`` does (the project's
``.streamlit/config.toml`` applies: no file watcher), on a free port, and drives headless
Chromium (``/usr/bin/chromium --no-sandbox``, Playwright) on the same machine:

1. **Visitors at once**: N browser contexts (separate sessions, each with its own
   renderer processes) open the training gallery together on the fresh server. Per
   visitor: seconds from the request to *idle* (the script finished, every image of the
   page loaded, nothing changing for 0.3 s). Server CPU seconds (user + system, from
   ``/proc``) spent from the start of the server to the last idle visitor, per visitor.
   Goals: median time to idle <= 30 s, server CPU <= 1 s per visitor.
2. **An epoch nobody has viewed**: one more visitor steps back through stored epochs with
   the "previous epoch" button; seconds from the click to idle, for epochs no visitor
   had opened (the default view is the last epoch). Goal <= 1 s.
3. **Play**: the same visitor turns Play on; the seconds between the epochs shown
   (the grid's heading changes) against the promised interval. Goal: median within
   10 % of it, none over twice it.

Prints a table (the README's) and writes ``benchmarks/results/visitors.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import print_table, write_results  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run"]
GOAL_IDLE_S = 30.0
GOAL_CPU_PER_VISITOR_S = 1.0
GOAL_UNVIEWED_EPOCH_S = 1.0
#: Play's promised interval (ui.gallery.PLAY_INTERVAL).
PLAY_INTERVAL_S = 1.5


def play_met(intervals: list[float], promised: float = PLAY_INTERVAL_S) -> bool:
    """Play's goal: the median interval within 10 % of the promised one, none over twice it."""
    return (bool(intervals) and abs(statistics.median(intervals) - promised) <= 0.1 * promised
            and max(intervals) <= 2 * promised)


def play_row(intervals: list[float], detail: str, promised: float = PLAY_INTERVAL_S) -> dict:
    """The table row of a Play measurement (:func:`measure_play`); ``detail`` follows
    "median; max ... s"."""
    med = statistics.median(intervals) if intervals else float("nan")
    return {"measure": "Play: seconds between epochs", "value": f"{med:.2f} s",
            "detail": f"median; max {max(intervals, default=float('nan')):.2f} s{detail}",
            "goal": f"{promised:g} s (promised)", "met": "yes" if play_met(intervals, promised)
            else "no"}


def run_record(load_before: tuple[float, ...]) -> dict[str, object]:
    """When and how a browser benchmark ran, for its JSON: the load before and after, the
    date and the command line."""
    return {"load_average_before": list(load_before), "load_average_after": list(os.getloadavg()),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": f"python benchmarks/{Path(sys.argv[0]).name} " + " ".join(sys.argv[1:])}

#: The page is idle: the script has finished, images are loaded, no spinner is shown.
IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (!document.querySelector('[data-testid="stMain"] h1')) return false;
  if (document.querySelector('[data-testid="stSpinner"], [data-testid="stSkeleton"]')) return false;
  const imgs = [...document.querySelectorAll('[data-testid="stMain"] img')];
  return imgs.every(i => i.complete && i.naturalWidth > 0);
}"""
#: The grid's heading, "Epoch N: every variant on every held-out photograph".
EPOCH_JS = """() => { const h = [...document.querySelectorAll('[data-testid="stMain"] h3')]
  .map(e => e.innerText).find(t => /^Epoch \\d+:/.test(t)); return h || ''; }"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its waited-for children (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def browser_cpu_seconds() -> float:
    """CPU seconds of every running Chromium process (the visitors' browsers)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        if "chrom" in name:
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def start_server(root: str | None, project: Path = ROOT, script: str = "dashboard.py"
                 ) -> tuple[subprocess.Popen, str]:
    """``streamlit run dashboard.py`` as ``make run`` starts it, on a free port, in
    ``project`` (another checkout: the same measurement of an older release); ``script``
    another app file (``benchmarks/floor_app.py``)."""
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if root:
        env["CHECKERBOARD_CHECKPOINTS"] = root
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
         "--server.address", "127.0.0.1"],
        cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the dashboard server did not start")


async def measure_play(page, steps: int) -> tuple[list[str], list[float]]:
    """Click Play on the gallery and record ``steps`` epoch changes: the epochs shown and
    the seconds between consecutive changes."""
    shown = [await page.evaluate(EPOCH_JS)]
    times = []
    await page.locator(".st-key-playing label").first.click()
    for _ in range(steps):
        shown.append(await wait_epoch_change(page, shown[-1], timeout=30))
        times.append(time.monotonic())
    return shown, [b - a for a, b in zip(times, times[1:], strict=False)]


def stop_server(proc: subprocess.Popen) -> None:
    """Stop a server started by :func:`start_server` (terminate, then kill after 10 s)."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


async def wait_idle(page, *, timeout: float = 300.0, settle: float = 0.3) -> float:
    """Poll until the page is idle and stays so for ``settle`` seconds; returns the
    monotonic time at which it became idle."""
    deadline = time.monotonic() + timeout
    since = None
    while time.monotonic() < deadline:
        idle = await page.evaluate(IDLE_JS)
        now = time.monotonic()
        if idle:
            since = since or now
            if now - since >= settle:
                return since
        else:
            since = None
        await asyncio.sleep(0.05)
    raise TimeoutError("the page did not become idle")


async def visit(browser, url: str, size: tuple[int, int] = (1440, 900)
                ) -> tuple[float, object, object]:
    """Open ``url`` in a fresh context with a ``size`` (width, height) window; seconds to
    idle, and the context and page."""
    context = await browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = await context.new_page()
    start = time.monotonic()
    await page.goto(url, wait_until="commit")
    idle = await wait_idle(page)
    return idle - start, context, page


async def wait_epoch_change(page, before: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = await page.evaluate(EPOCH_JS)
        if text and text != before:
            return text
        await asyncio.sleep(0.02)
    raise TimeoutError(f"the epoch did not change from {before!r}")


async def run(args) -> dict:
    from playwright.async_api import async_playwright

    proc, base = start_server(args.root, Path(args.project).resolve())
    cpu_start = cpu_seconds(proc.pid)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # 1. N visitors at once on the fresh server
            t0 = time.monotonic()
            browsers_start = browser_cpu_seconds()
            visits = await asyncio.gather(*(visit(browser, f"{base}/gallery")
                                            for _ in range(args.visitors)))
            wall = time.monotonic() - t0
            cpu_visitors = cpu_seconds(proc.pid) - cpu_start
            cpu_browsers = browser_cpu_seconds() - browsers_start
            idle = sorted(v[0] for v in visits)
            for _, context, _ in visits:
                await context.close()

            # 2. epochs nobody has viewed: step back from the last one
            _, context, page = await visit(browser, f"{base}/gallery")
            unviewed = []
            for _ in range(args.steps):
                before = await page.evaluate(EPOCH_JS)
                await page.locator(".st-key-epoch-prev button").first.click()
                start = time.monotonic()
                await wait_epoch_change(page, before)
                unviewed.append((await wait_idle(page, settle=0.2)) - start)

            # 3. Play: the intervals between the epochs shown
            shown, intervals = await measure_play(page, args.play_steps)
            await context.close()
            await browser.close()
    finally:
        stop_server(proc)
    epochs = [int(m.group(1)) for t in shown if (m := re.match(r"Epoch (\d+)", t))]
    return {"idle": idle, "wall": wall, "cpu": cpu_visitors, "browser_cpu": cpu_browsers,
            "unviewed": unviewed,
            "intervals": intervals, "epochs_played": epochs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--visitors", type=int, default=10)
    ap.add_argument("--steps", type=int, default=4, help="unviewed epochs to step through")
    ap.add_argument("--play-steps", type=int, default=7, help="epochs to watch while playing")
    ap.add_argument("--root", default=None, help="checkpoint folder (default: checkpoints/)")
    ap.add_argument("--project", default=str(ROOT),
                    help="project checkout to serve (default: this one); e.g. an older "
                         "release extracted with `git archive`, to compare on the same machine")
    ap.add_argument("--out", default="visitors", help="results name (benchmarks/results/NAME.json)")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    r = asyncio.run(run(args))
    n = args.visitors
    median_idle = statistics.median(r["idle"])
    cpu_per = r["cpu"] / n
    unviewed_med = statistics.median(r["unviewed"])
    rows = [
        {"measure": f"{n} visitors at once: median time to idle", "value": f"{median_idle:.1f} s",
         "detail": f"min {r['idle'][0]:.1f} s, max {r['idle'][-1]:.1f} s; browsers used "
                   f"{r['browser_cpu']:.0f} CPU-s",
         "goal": f"<= {GOAL_IDLE_S:g} s", "met": "yes" if median_idle <= GOAL_IDLE_S else "no"},
        {"measure": f"{n} visitors at once: server CPU per visitor", "value": f"{cpu_per:.2f} s",
         "detail": f"{r['cpu']:.1f} s in all, server start included",
         "goal": f"<= {GOAL_CPU_PER_VISITOR_S:g} s",
         "met": "yes" if cpu_per <= GOAL_CPU_PER_VISITOR_S else "no"},
        {"measure": "an epoch nobody has viewed", "value": f"{unviewed_med:.2f} s",
         "detail": "median; max {:.2f} s over {} epochs".format(max(r["unviewed"]),
                                                              len(r["unviewed"])),
         "goal": f"<= {GOAL_UNVIEWED_EPOCH_S:g} s",
         "met": "yes" if max(r["unviewed"]) <= GOAL_UNVIEWED_EPOCH_S else "no"},
        play_row(r["intervals"], f"; epochs {r['epochs_played']}"),
    ]
    print_table(rows, ["measure", "value", "detail", "goal", "met"])
    path = write_results(
        args.out, rows, project=str(Path(args.project).resolve()), visitors=n, idle_s=r["idle"], wall_s=r["wall"],
        server_cpu_s=r["cpu"], browser_cpu_s=r["browser_cpu"], unviewed_epoch_s=r["unviewed"], play_intervals_s=r["intervals"],
        epochs_played=r["epochs_played"], **run_record(load_before),
        browsers="one headless Chromium, one context (session) per visitor",
    )
    print(f"\nwrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
