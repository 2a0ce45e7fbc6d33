"""Duplicate candidates (issue 17, matching.find_duplicates) over the linkage county
../shared/linkage/full: time, peak memory, candidates per rule, precision and recall.

    .venv/bin/python -m bench.duplicates [--set full|small] [--append]

Three runs, each one list read as a registry:
- collected (392k records) and police (399k) alone: the truth (truth.csv.gz) has every person
  at most once per list, so every candidate there is a false alarm; the count of those, and
  their scores, is what a clerk would wade through;
- collected + police together (791k): as if both lists had been registered, so nearly every
  person is there twice, with the planted faults of each list (ID typos, 15-digit numbers,
  homophones, date errors...) between the copies. Precision and recall against the truth's
  pairs (the same person_id), and recall per planted kind (discrepancies.csv.gz).

Time: reading and preparing the records (name normalisation and pinyin, which the register
stores as columns) is timed apart from the matcher. Memory: peak resident size of this process
(ru_maxrss) after each step. The records are built once for all runs.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import os
import platform
import resource
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matching import RULES, PersonRecord, find_duplicates, name_keys, normalise_id, normalise_name  # noqa: E402

LINKAGE = Path(__file__).resolve().parent.parent.parent / "shared" / "linkage"


def _rss_mb() -> float:
    """Peak resident size of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def _read(path: Path, household_column: str) -> list[PersonRecord]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            name = row["name"].strip()
            out.append(PersonRecord(
                key=row["record_id"], household_key=(row["village_code"], row[household_column]), name=name,
                name_norm=normalise_name(name), pinyin=name_keys(name)[0], sex=row["sex"],
                birth_date=row["birth_date"], id_number=normalise_id(row["id_number"]), unit=row["village_code"]))
    return out


def _truth(setdir: Path) -> dict[str, str]:
    with gzip.open(setdir / "truth.csv.gz", "rt", encoding="utf-8", newline="") as f:
        return {r["record_id"]: r["person_id"] for r in csv.DictReader(f) if r["source"] in ("collected", "police")}


def _kinds(setdir: Path) -> dict[str, set[str]]:
    """person_id -> the planted kinds/subkinds of that person (collected or police)."""
    out: dict[str, set[str]] = defaultdict(set)
    with gzip.open(setdir / "discrepancies.csv.gz", "rt", encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            if r["source"] in ("collected", "police"):
                out[r["person_id"]].add(f"{r['kind']}/{r['subkind']}".rstrip("/"))
    return out


def _true_pairs(records: list[PersonRecord], truth: dict[str, str]) -> set[frozenset]:
    by_person: dict[str, list[str]] = defaultdict(list)
    for r in records:
        by_person[truth[r.key]].append(r.key)
    pairs = set()
    for keys in by_person.values():
        for x, a in enumerate(keys):
            for b in keys[x + 1:]:
                pairs.add(frozenset((a, b)))
    return pairs


def _run(label: str, records: list[PersonRecord], truth: dict[str, str], kinds: dict[str, set[str]],
         out: list[str]) -> None:
    before = _current_rss_mb()
    t0 = time.perf_counter()
    report = find_duplicates(records, min_score=0.0)
    seconds = time.perf_counter() - t0
    rss = _rss_mb()
    true = _true_pairs(records, truth)
    found = [(c, c.pair in true) for c in report.candidates]
    out.append(f"### {label}: {len(records):,} records, {len(true):,} true pairs (same person_id)")
    out.append("")
    out.append(f"matcher {seconds:.1f} s; resident memory {before:,.0f} MB before it (the records of both lists "
               f"and the truth), peak of the process so far {rss:,.0f} MB; "
               f"capped blocks {len(report.capped_blocks)}"
               + (f" (largest {max(b.size for b in report.capped_blocks)})" if report.capped_blocks else ""))
    out.append("")
    out.append("| min score | candidates | true | precision | recall |")
    out.append("|---:|---:|---:|---:|---:|")
    for threshold in (0.0, 0.5, 0.8, 0.9):
        kept = [ok for c, ok in found if c.score >= threshold]
        tp = sum(kept)
        precision = tp / len(kept) if kept else float("nan")
        recall = tp / len(true) if true else float("nan")
        out.append(f"| {threshold:.1f} | {len(kept):,} | {tp:,} | {precision:.4f} | {recall:.4f} |")
    out.append("")
    out.append("| rule (score ≥ 0.5) | candidates | true | precision |")
    out.append("|---|---:|---:|---:|")
    per_rule: Counter[str] = Counter()
    per_rule_true: Counter[str] = Counter()
    for c, ok in found:
        if c.score >= 0.5:
            for r in c.rules:
                per_rule[r] += 1
                per_rule_true[r] += ok
    for rule in RULES:
        n = per_rule[rule]
        out.append(f"| {rule} | {n:,} | {per_rule_true[rule]:,} | {per_rule_true[rule] / n if n else float('nan'):.4f} |")
    out.append("")
    if true and kinds:
        hit = {c.pair for c, ok in found if ok and c.score >= 0.5}
        per_kind: Counter[str] = Counter()
        per_kind_hit: Counter[str] = Counter()
        for pair in true:
            person = truth[next(iter(pair))]
            for kind in kinds.get(person, {"(no planted fault)"}):
                per_kind[kind] += 1
                per_kind_hit[kind] += pair in hit
        out.append("| planted kind of the person (score ≥ 0.5) | true pairs | found | recall |")
        out.append("|---|---:|---:|---:|")
        for kind in sorted(per_kind):
            out.append(f"| {kind} | {per_kind[kind]:,} | {per_kind_hit[kind]:,} | "
                       f"{per_kind_hit[kind] / per_kind[kind]:.3f} |")
        out.append("")
    false = [c for c, ok in found if not ok and c.score >= 0.5]
    if false:
        out.append("False alarms (score ≥ 0.5), first few: " + "; ".join(
            f"{c.score} {c.message()['en']}" for c in false[:3]))
        out.append("")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="full", choices=("full", "small"))
    parser.add_argument("--append", action="store_true", help="append the figures to docs/PERFORMANCE.md")
    args = parser.parse_args()
    setdir = LINKAGE / args.set
    out: list[str] = []
    with open("/proc/loadavg") as f:
        load_before = f.read().strip()
    t0 = time.perf_counter()
    collected = _read(setdir / "collected.csv.gz", "card_no")
    police = _read(setdir / "police.csv.gz", "household_no")
    prep = time.perf_counter() - t0
    truth, kinds = _truth(setdir), _kinds(setdir)
    out.append(f"{dt.date.today().isoformat()}, set `{args.set}`, {os.cpu_count()} cores "
               f"({platform.processor() or platform.machine()}), Python {platform.python_version()}; "
               f"load average before: {load_before}.")
    out.append("")
    out.append(f"Reading and preparing {len(collected) + len(police):,} records (csv, normalise_name, pinyin): "
               f"{prep:.1f} s, peak RSS {_rss_mb():,.0f} MB.")
    out.append("")
    _run("collected alone", collected, truth, {}, out)
    _run("police alone", police, truth, {}, out)
    _run("collected + police as one registry", collected + police, truth, kinds, out)
    with open("/proc/loadavg") as f:
        out.append(f"Load average after: {f.read().strip()}.")
    print("\n".join(out))
    if args.append:
        from bench._report import append_to_section
        append_to_section("## Duplicate candidates (`bench/duplicates.py`, issue 17)", out)


if __name__ == "__main__":
    main()
