"""A presenter's pace on a warm server: the story's Next, a story step opened by URL, Play.

    .venv/bin/python benchmarks/presenter.py              # every step, 3 Next presses
    .venv/bin/python benchmarks/presenter.py --present    # the same in presentation mode

Starts ``streamlit run dashboard.py`` as ``make run`` does (``benchmarks/visitors.py``'s
``start_server``), warms it (every story step and the gallery opened once, as a presenter
rehearses), then with headless Chromium at ``--size`` (default 1920x1080, a projector):

1. **A step by URL**: ``/story?step=N`` in a fresh session, seconds from the request to
   idle (the script finished, images loaded, nothing changing for 0.3 s). Goal <= 2 s.
2. **Next**: on an open story, seconds from pressing Next to the next step idle. Goal
   <= 1 s.
3. **Play** (gallery): seconds between the epochs shown. Goal: median within 10 % of the
   promised interval (``ui.gallery.PLAY_INTERVAL``), none over twice it.
4. **Streamlit's floor**, interleaved with 1. (after each step, in fresh sessions on a
   second server started the same way): ``benchmarks/floor_app.py``, a bare page, and the
   same page with one small plotly chart. No page of a Streamlit app opens faster than the
   first, and no page with a chart faster than the second: the story's own cost is the
   difference.

Prints a table and writes ``benchmarks/results/presenter.json``, with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import print_table, write_results  # noqa: E402
from benchmarks.visitors import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    measure_play,
    play_row,
    run_record,
    start_server,
    stop_server,
    visit,
    wait_idle,
)
from ui.gallery import PLAY_INTERVAL  # noqa: E402
from ui.story import STEPS  # noqa: E402

GOAL_STEP_URL_S = 2.0
GOAL_NEXT_S = 1.0

STEP_JS = """() => { const h = [...document.querySelectorAll('[data-testid="stMain"] h1, [data-testid="stMain"] h2')]
  .map(e => e.innerText).find(t => /^Step \\d+ of/.test(t)); return h || ''; }"""


async def _wait_step(page, number: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await page.evaluate(STEP_JS)).startswith(f"Step {number} of"):
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"step {number} did not appear")


async def run(args) -> dict:
    from playwright.async_api import async_playwright

    proc, base = start_server(None)
    floor_proc, floor_base = start_server(None, script="benchmarks/floor_app.py")
    q = "&present=true" if args.present else ""
    floor = {"bare": [], "chart": []}
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # rehearsal: every step and the gallery once (a warm server)
            for n in range(1, len(STEPS) + 1):
                _, context, _ = await visit(browser, f"{base}/story?step={n}{q}", args.size)
                await context.close()
            _, context, _ = await visit(browser, f"{base}/gallery")
            await context.close()
            for chart in ("0", "1"):  # the floor's server warmed alike
                _, context, _ = await visit(browser, f"{floor_base}/?chart={chart}", args.size)
                await context.close()
            # 1. each step by URL, fresh session; 4. the floor's two pages after each
            by_url = {}
            for n in range(1, len(STEPS) + 1):
                seconds, context, _ = await visit(browser, f"{base}/story?step={n}{q}", args.size)
                by_url[n] = seconds
                await context.close()
                for kind, chart in (("chart", "1"), ("bare", "0")):
                    seconds, context, _ = await visit(browser, f"{floor_base}/?chart={chart}",
                                                      args.size)
                    floor[kind].append(seconds)
                    await context.close()
            # 2. Next, from step 1 onwards
            _, context, page = await visit(browser, f"{base}/story?step=1{q}", args.size)
            nexts = {}
            for n in range(2, min(len(STEPS), args.next_presses + 1) + 1):
                start = time.monotonic()
                await page.locator(".st-key-story-next button").first.click()
                await _wait_step(page, n)
                nexts[n] = (await wait_idle(page, settle=0.2)) - start
            await context.close()
            # 3. Play in the gallery
            _, context, page = await visit(browser, f"{base}/gallery")
            _, intervals = await measure_play(page, args.play_steps)
            await context.close()
            await browser.close()
    finally:
        stop_server(proc)
        stop_server(floor_proc)
    return {"by_url": by_url, "next": nexts, "intervals": intervals, "floor": floor}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--present", action="store_true", help="the story in presentation mode")
    ap.add_argument("--next-presses", type=int, default=len(STEPS) - 1)
    ap.add_argument("--play-steps", type=int, default=7)
    ap.add_argument("--out", default="presenter")
    ap.add_argument("--size", default="1920x1080", type=lambda t: tuple(map(int, t.split("x"))),
                    help="the browser window, WIDTHxHEIGHT (default 1920x1080)")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    r = asyncio.run(run(args))
    url_max = max(r["by_url"].values())
    next_max = max(r["next"].values())
    rows = [
        {"measure": "a story step opened by URL", "value": f"{statistics.median(r['by_url'].values()):.2f} s",
         "detail": "median; max {:.2f} s (step {}); ".format(
             url_max, max(r["by_url"], key=r["by_url"].get))
         + ", ".join(f"{n}: {s:.1f}" for n, s in r["by_url"].items()),
         "goal": f"<= {GOAL_STEP_URL_S:g} s", "met": "yes" if url_max <= GOAL_STEP_URL_S else "no"},
        {"measure": "Next (story)", "value": f"{statistics.median(r['next'].values()):.2f} s",
         "detail": f"median; max {next_max:.2f} s; "
         + ", ".join(f"→{n}: {s:.2f}" for n, s in r["next"].items()),
         "goal": f"<= {GOAL_NEXT_S:g} s", "met": "yes" if next_max <= GOAL_NEXT_S else "no"},
        play_row(r["intervals"], f" over {len(r['intervals'])} intervals", PLAY_INTERVAL),
    ]
    for kind, what in (("bare", "Streamlit's floor: a bare page by URL"),
                       ("chart", "Streamlit's floor: a page with one small chart by URL")):
        seconds = r["floor"][kind]
        rows.append({"measure": what, "value": f"{statistics.median(seconds):.2f} s",
                     "detail": f"median; max {max(seconds):.2f} s over {len(seconds)} visits "
                     "(benchmarks/floor_app.py)", "goal": "reference", "met": ""})
    print_table(rows, ["measure", "value", "detail", "goal", "met"])
    path = write_results(
        args.out, rows, present=args.present, step_by_url_s=r["by_url"], next_s=r["next"],
        play_intervals_s=r["intervals"], floor_bare_s=r["floor"]["bare"],
        floor_chart_s=r["floor"]["chart"], **run_record(load_before),
        server="warm: every step and the gallery opened once before measuring",
        window=f"{args.size[0]}x{args.size[1]}",
    )
    print(f"\nwrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
