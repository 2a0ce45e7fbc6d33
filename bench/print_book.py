"""Bench: rendering a book of 100 household cards to PDF (not a test).

    .venv/bin/python bench/print_book.py [--households 100] [--runs 3] [--page-size A4] [--seed 1]
        [--skip-naive] [--keep FOLDER]

The book is made-up demo data (printing.samples: Faker zh_CN, seeded, 4-6 members a
household, three drawn signatures a card). Each configuration runs in a fresh Python
process of its own, so that its peak memory (getrusage maxrss) is its own:
- "1 process": render_book(processes=1); Python's garbage collector is paused while
  WeasyPrint works, so the garbage of a book is collected afterwards: that collection is
  timed apart (it is paid by whoever runs next in a long-lived process);
- "2 processes": render_book(processes=2), two chunks laid out at once in worker processes
  from a forkserver and joined with pypdf. The first run also starts the forkserver;
- "naive": one WeasyPrint document per card (and one for cover and catalogue), one after
  another, joined with pypdf: the same pages, made the obvious way (private helpers of
  printing.render, so that only the cutting differs).
Printed: median seconds of --runs renders (and every run), pages per second, PDF size, peak
RSS of the rendering process and of its largest child (worker or forkserver), and the load
average before and after (other work on the machine slows every figure).
"""
from __future__ import annotations

import argparse
import gc
import io
import json
import multiprocessing.forkserver
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pypdf import PdfReader

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from printing import render_book  # noqa: E402
from printing import render as render_module  # noqa: E402
from printing.samples import sample_book  # noqa: E402

CONFIGURATIONS = ("1 process", "2 processes", "naive")
GOAL_SECONDS = 4.0  # for the book on this 2-core machine, with 2 processes


def naive(book, page_size: str) -> bytes:
    chunks = render_module._book_chunks(book, page_size, len(book.cards))  # one card a chunk
    return render_module._join([render_module._render_chunk(c) for c in chunks], chunks[0].title)


def measure(configuration: str, args) -> dict:
    """In this process: --runs renders of one configuration."""
    book = sample_book(args.households, seed=args.seed, members=(4, 6))
    seconds, collect_seconds = [], []
    pdf = b""
    for _ in range(args.runs):
        gc.collect()
        start = time.perf_counter()
        if configuration == "naive":
            pdf = naive(book, args.page_size)
        else:
            processes = 1 if configuration == "1 process" else 2
            pdf = render_book(book, page_size=args.page_size, processes=processes)
        seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        gc.collect()
        collect_seconds.append(time.perf_counter() - start)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        (args.keep / f"book-{configuration.replace(' ', '-')}.pdf").write_bytes(pdf)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    # Stop the forkserver (if started) and wait for it, so that its workers' peak is counted.
    multiprocessing.forkserver._forkserver._stop()
    return {"seconds": seconds, "collect": collect_seconds, "pages": pages, "bytes": len(pdf),
            "rss_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="renders per configuration (the median is shown)")
    parser.add_argument("--page-size", default="A4", choices=render_module.PAGE_SIZES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-naive", action="store_true", help="the naive way takes ~20 s a run")
    parser.add_argument("--keep", type=Path, help="write each configuration's PDF into this folder")
    parser.add_argument("--measure", choices=CONFIGURATIONS, help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args)))
        return

    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                   platform.processor())
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {os.cpu_count()} cores ({cpu}), Python "
          f"{platform.python_version()}; a book of {args.households} households, {args.page_size}, "
          f"median of {args.runs} runs")
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}")
    results = {}
    for configuration in CONFIGURATIONS:
        if configuration == "naive" and args.skip_naive:
            continue
        command = [sys.executable, __file__, "--measure", configuration, "--households", str(args.households),
                   "--runs", str(args.runs), "--page-size", args.page_size, "--seed", str(args.seed)]
        if args.keep:
            command += ["--keep", str(args.keep)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results[configuration] = json.loads(out.strip().splitlines()[-1])
        print(f"  {configuration}: done", flush=True)
    print(f"load average after:  {Path('/proc/loadavg').read_text().strip()}")

    print()
    print("| configuration | seconds (median) | runs | pages/s | pages | PDF | peak RSS: process "
          "| largest child |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for configuration, r in results.items():
        median = statistics.median(r["seconds"])
        print(f"| {configuration} | {median:.2f} | {' '.join(f'{s:.2f}' for s in r['seconds'])} | "
              f"{r['pages'] / median:.0f} | {r['pages']} | {r['bytes'] / 1e6:.2f} MB | "
              f"{r['rss_self']:.0f} MB | {r['rss_children']:.0f} MB |")
    print()
    one = results["1 process"]
    print(f"1 process: collecting the book's garbage afterwards takes another "
          f"{statistics.median(one['collect']):.2f} s (median).")
    two = statistics.median(results["2 processes"]["seconds"])
    verdict = "met" if two <= GOAL_SECONDS else "NOT met"
    print(f"2 processes: {two:.2f} s, goal <= {GOAL_SECONDS:.0f} s: {verdict}; "
          f"{statistics.median(one['seconds']) / two:.2f}x faster than 1 process.")
    if "naive" in results:
        slow = statistics.median(results["naive"]["seconds"])
        print(f"naive (one document per card): {slow / two:.1f}x the time of 2 processes, "
              f"{slow / statistics.median(one['seconds']):.1f}x the time of 1 process, "
              f"{results['naive']['bytes'] / results['2 processes']['bytes']:.0f}x the PDF size.")


if __name__ == "__main__":
    main()
