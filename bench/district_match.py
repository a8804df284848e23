"""Benchmark of hub.gates.district_match on the NCES ElSi 2021-22 district directory.

Generates 20,000 variants of the directory's own names with a fixed seed (UPPER or mixed-case name, case changes,
School District <-> SD / S.D. / Public Schools, generic suffix added or dropped, Twp/Township, Co./County, #2 /
No. 2, hyphens, 'Township of X', extra spaces and commas; 5% also get a one-letter typo), matches each with its
state and prints accepted-correct / accepted-wrong / sent-to-review / rejected and queries per second; the last
line is `precision=… recall=… qps=…` (precision = accepted-correct / accepted, recall = accepted-correct / all).
It also prints the same-state name clashes that normalisation adds to the directory's own (the evidence for
GENERIC_WORDS).

    python bench/district_match.py [DIRECTORY_CSV] [--queries N] [--seed S]
"""
from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.gates.district_match import DistrictMatcher, normalize_name  # noqa: E402
from hub.gates.district_records import DistrictRecord, load_nces_elsi  # noqa: E402

DEFAULT_CSV = Path(__file__).resolve().parents[1] / "reference/nces_elsi_district_directory_2021-22.csv"
# (pattern, replacement) pairs applied in either direction; each query gets a few at random.
SWAPS = [
    (r"\bSchool District\b", "SD"), (r"\bSD\b", "School District"), (r"\bSD\b", "S.D."),
    (r"\bTownship\b", "Twp"), (r"\bTwp\b", "Township"), (r"\bCounty\b", "Co."), (r"\bCo\b\.?", "County"),
    (r"\bPublic Schools\b", "School District"), (r"\bSchool District\b", "Public Schools"),
    (r"\bDistrict\b", "Dist"), (r"\bElementary\b", "Elem"), (r"\bElem\b", "Elementary"),
    (r"\bSaint\b", "St."), (r"\bSt\b\.?", "Saint"), (r" (\d+)\b", r" #\1"), (r" (\d+)\b", r" No. \1"),
    (r"-", " "), (r"&", "and"), (r"\bMount\b", "Mt."), (r"^(\w+) (Township|Borough|City|County)\b", r"\2 of \1"),
]
GENERIC_SUFFIXES = re.compile(r"\s+(Public Schools|School District|Schools|SD|Public School District)$", re.I)
TYPO_RATE = 0.05


def variant(rec: DistrictRecord, rng: random.Random) -> str:
    """One realistic spelling of a district's name, as a vendor file or a person might write it."""
    name = rng.choice([rec.name, *rec.aliases, rec.name.title()])
    name = name.title() if name.isupper() and rng.random() < 0.5 else name
    for pattern, repl in rng.sample(SWAPS, k=len(SWAPS)):
        if rng.random() < 0.35:
            name = re.sub(pattern, repl, name, count=1, flags=re.I)
    if rng.random() < 0.25:  # 'Public Schools' / 'School District' added or dropped
        stripped = GENERIC_SUFFIXES.sub("", name)
        name = stripped if stripped != name else f"{name} {rng.choice(['Public Schools', 'School District', 'PD'])}"
    if rng.random() < 0.2:
        name = name.replace(" ", "  ", 1) + rng.choice(["", " ", ","])
    case = rng.random()
    return name.upper() if case < 0.25 else name.lower() if case < 0.35 else name


def squeeze(name: str) -> str:
    """Letters and digits only: 'Township of Franklin S.D.' -> 'townshipoffranklinsd'."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def make_queries(records: list[DistrictRecord], n: int, rng: random.Random) -> list[tuple[str, DistrictRecord]]:
    """n (query, truth) pairs.  A variant that spells another district's name is drawn again:
    no matcher could tell those apart (NJ has 'Township of Franklin' and 'Franklin Township')."""
    names: dict[tuple[str, str], set[str]] = {}
    for rec in records:
        for name in (rec.name, *rec.aliases):
            names.setdefault((rec.state, squeeze(name)), set()).add(rec.leaid)
    queries = []
    while len(queries) < n:
        rec = rng.choice(records)
        query = variant(rec, rng)
        query = typo(query, rng) if rng.random() < TYPO_RATE else query
        if names.get((rec.state, squeeze(query)), {rec.leaid}) <= {rec.leaid}:
            queries.append((query, rec))
    return queries


def typo(name: str, rng: random.Random) -> str:
    """Drop or double one letter (hand-typed onboarding sheets)."""
    i = rng.choice([i for i, ch in enumerate(name) if ch.isalpha()] or [0])
    return name[:i] + name[i + 1:] if rng.random() < 0.5 else name[:i] + name[i] + name[i:]


def clashes(records: list[DistrictRecord], key: Callable[[str], str]) -> int:
    """Groups of districts of one state that share a name under `key`."""
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rec in records:
        groups[rec.state, key(rec.name)].add(rec.leaid)
    return sum(len(leaids) > 1 for leaids in groups.values())


def run(path: Path, n_queries: int, seed: int) -> dict[str, float]:
    """Print the table; return precision, recall and queries per second."""
    records = load_nces_elsi(path)
    print(f"same-state name clashes: {clashes(records, str.upper)} in the directory, "
          f"{clashes(records, normalize_name)} after normalize_name")
    queries = make_queries(records, n_queries, random.Random(seed))
    t0 = time.perf_counter()
    matcher = DistrictMatcher(records)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = [(matcher.match(q, rec.state), rec) for q, rec in queries]
    elapsed = time.perf_counter() - t0
    counts: Counter[str] = Counter()
    for res, rec in results:
        if res.decision == "accepted":
            counts["accepted-correct" if res.best and res.best.leaid == rec.leaid else "accepted-wrong"] += 1
            counts[f"  by rule: {res.reason}"] += 1
        else:
            counts["sent-to-review" if res.decision == "review" else "rejected"] += 1
    accepted = counts["accepted-correct"] + counts["accepted-wrong"]
    stats = {"districts": len(records), "queries": len(queries), "accepted-correct": counts["accepted-correct"],
             "accepted-wrong": counts["accepted-wrong"],
             **{k: v for k, v in sorted(counts.items()) if k.startswith("  by rule")},
             "sent-to-review": counts["sent-to-review"], "rejected": counts["rejected"],
             "index build s": round(build, 2), "match s": round(elapsed, 2), "queries/s": round(len(queries) / elapsed)}
    for key, value in stats.items():
        print(f"{key:<24}{value:>8}")
    for res, rec in [(r, c) for r, c in results if r.decision == "accepted" and r.best.leaid != c.leaid][:10]:
        print(f"  wrong: {res.query!r} ({rec.state}) -> {res.best.name} {res.best.leaid}, truth {rec.name} {rec.leaid}")
    return {"precision": counts["accepted-correct"] / accepted if accepted else 1.0,
            "recall": counts["accepted-correct"] / len(queries), "qps": len(queries) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20221)
    args = parser.parse_args()
    m = run(args.path, args.queries, args.seed)
    print(f"precision={m['precision']:.4f} recall={m['recall']:.4f} qps={m['qps']:.0f}")


if __name__ == "__main__":
    main()
