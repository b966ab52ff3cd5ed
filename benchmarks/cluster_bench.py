"""Benchmark offline keyword clustering (embed + cluster) at 1k, 10k and 50k keywords, and its quality.

    .venv/bin/python benchmarks/cluster_bench.py [--sizes 1000 10000 50000] [--tightness 0.5]

Keywords come from benchmarks/data/keywords_20k.csv; sizes above 20k are topped up with
deterministic synthetic variants (other modifiers and word orders of those keywords, plus the
seed keywords in app/data/reference.json with modifiers). Each size runs in a fresh process so
the peak RSS reported is that size's own. Quality: adjusted Rand index and purity against the
`topic` column of every labelled sample in tests/fixtures (README: which one was each round's held-out
check).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data" / "keywords_20k.csv"
REFERENCE = ROOT / "app" / "data" / "reference.json"
LABELLED = sorted((ROOT / "tests" / "fixtures").glob("keywords_labeled_*.csv"))
PREFIXES = ["best", "cheap", "how to choose", "what is", "is", "top rated", "buy", "diy", "affordable", "compare"]
PHRASE_PROBE = 3000
SUFFIXES = ["near me", "for beginners", "guide", "reviews", "under 50", "uk", "2027", "for kids", "on a budget",
            "at home", "online", "price", "vs", "ideas", "for apartments", "tips", "worth it", "checklist"]


def load_keywords(size: int) -> list[str]:
    """The first `size` keywords of the sample, topped up with synthetic variants when needed."""
    with DATA.open(newline="") as handle:
        base = [row["Keyword"] for row in csv.DictReader(handle)]
    seeds = [k[0] for i in json.loads(REFERENCE.read_text())["industries"] for s in i["sectors"] for k in s["keywords"]]
    keywords, seen = [], set()

    def add(keyword: str) -> None:
        if keyword not in seen:
            seen.add(keyword)
            keywords.append(keyword)

    for keyword in base:
        add(keyword)
    rng = random.Random(0)
    while len(keywords) < size:
        source = rng.choice(base if rng.random() < 0.7 else seeds)
        words = source.split()
        if rng.random() < 0.3 and len(words) > 2:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
        add(" ".join([rng.choice(PREFIXES), *words, rng.choice(SUFFIXES)][rng.randrange(2):]))
    return keywords[:size]


def run_one(size: int, tightness: float) -> dict:
    """Time one size in this process and return the figures."""
    sys.path.insert(0, str(ROOT))
    from app.services.planner import semantic

    keywords = load_keywords(size)
    started = time.perf_counter()
    semantic._load_model()
    load_s = time.perf_counter() - started

    started = time.perf_counter()
    vectors = semantic.embed(keywords)
    embed_s = time.perf_counter() - started
    started = time.perf_counter()
    labels = semantic.cluster(vectors, tightness=tightness, texts=keywords)
    cluster_s = time.perf_counter() - started
    counts = Counter(labels)
    # The transformer reads each distinct keyword core once; these keywords share many cores, so also
    # time the worst case (every core distinct) from the encoder's rate on distinct whole keywords,
    # which are longer than cores.
    distinct = keywords[:PHRASE_PROBE]
    started, cpu = time.perf_counter(), time.process_time()
    semantic.encode_phrases(distinct)
    rate = len(distinct) / (time.perf_counter() - started)
    cpu_rate = len(distinct) / (time.process_time() - cpu)
    return {
        "n": size,
        "load_s": load_s,
        "embed_s": embed_s,
        "cluster_s": cluster_s,
        "total_s": embed_s + cluster_s,
        "clusters": len(counts),
        "largest": max(counts.values()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "phrases_per_s": rate,
        "phrases_per_cpu_s": cpu_rate,
        "worst_s": embed_s + cluster_s + size / rate,
    }


def quality(tightness: float) -> list[dict]:
    """ARI, purity and cluster count of every labelled sample at this tightness."""
    sys.path.insert(0, str(ROOT))
    from sklearn.metrics import adjusted_rand_score

    from app.services.planner import semantic

    out = []
    for path in LABELLED:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        truth = [row["topic"] for row in rows]
        texts = [row["Keyword"] for row in rows]
        labels = semantic.cluster(semantic.embed(texts), tightness=tightness, texts=texts)
        by_cluster: dict[int, Counter] = {}
        for label, topic in zip(labels, truth):
            by_cluster.setdefault(label, Counter())[topic] += 1
        purity = sum(c.most_common(1)[0][1] for c in by_cluster.values()) / len(labels)
        out.append({"sample": path.name, "n": len(rows), "topics": len(set(truth)), "clusters": len(by_cluster),
                    "ari": adjusted_rand_score(truth, labels), "purity": purity})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark offline keyword clustering.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    parser.add_argument("--tightness", type=float, default=0.5)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-quality", action="store_true", help="skip the labelled samples")
    args = parser.parse_args()

    if args.one:
        print(json.dumps(run_one(args.one, args.tightness)))
        return

    results = []
    print(f"{'n':>7} {'load s':>7} {'embed s':>8} {'cluster s':>10} {'total s':>8} {'clusters':>9} "
          f"{'largest':>8} {'peak RSS MB':>12} {'phrases/s':>10} {'per cpu-s':>10} {'worst s':>8}")
    for size in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--tightness", str(args.tightness)],
            check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        results.append(r)
        print(f"{r['n']:>7} {r['load_s']:>7.2f} {r['embed_s']:>8.2f} {r['cluster_s']:>10.2f} {r['total_s']:>8.2f} "
              f"{r['clusters']:>9} {r['largest']:>8} {r['peak_rss_mb']:>12.0f} {r['phrases_per_s']:>10.0f} "
              f"{r['phrases_per_cpu_s']:>10.0f} {r['worst_s']:>8.1f}", flush=True)

    if len(results) >= 2:
        small, large = results[-2], results[-1]
        ratio = large["n"] / small["n"]
        exponent = math.log(large["total_s"] / small["total_s"]) / math.log(ratio)
        print(f"Growth: {ratio:.0f}x more keywords ({small['n']} -> {large['n']}) took "
              f"{large['total_s'] / small['total_s']:.1f}x the time (~n^{exponent:.2f}) and "
              f"{large['peak_rss_mb'] / small['peak_rss_mb']:.1f}x the peak memory. Exact work is bounded "
              "per partition, so time is ~linear in n (n x partition size) and memory O(n*d + partition^2).")
        print("worst s = total s + n / (phrases/s): the time if every keyword's core were distinct (these "
              "keywords share cores, real selections share fewer). phrases/s is wall-clock on this machine now; "
              "per cpu-s is per CPU second of the process, which load on other processes does not change.")

    if not args.no_quality:
        print(f"\nQuality at tightness {args.tightness} (target: ARI >= 0.80 and purity >= 0.88 on every sample)")
        print(f"{'sample':<34} {'keywords':>8} {'topics':>7} {'clusters':>9} {'ARI':>6} {'purity':>7}")
        for q in quality(args.tightness):
            print(f"{q['sample']:<34} {q['n']:>8} {q['topics']:>7} {q['clusters']:>9} {q['ari']:>6.3f} "
                  f"{q['purity']:>7.3f}", flush=True)


if __name__ == "__main__":
    main()
