"""Robustness of semantic clustering on the labelled tuning samples: does a small change degrade smoothly?

    .venv/bin/python benchmarks/cluster_robustness.py [--sample NAME]

For each labelled sample (but HELD_OUT, the held-out sample of a round under way, if any), ARI and purity
against its `topic` column at tightness 0.4 / 0.45 / 0.5 / 0.55 / 0.6; at 0.5 with heads needing three
keywords instead of two (facets.HEAD_MIN_COUNT); and at 0.5 on seeded random 50 % and 25 % subsets of the
sample (each embedded as its own selection). Prints one line per sample and, per column, the lowest and
mean ARI and purity and the mean number of clusters. Quality does not depend on load (~1 min).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sklearn.metrics import adjusted_rand_score  # noqa: E402

from app.services.planner import facets, semantic  # noqa: E402

# A round of tuning writes its held-out sample first and names it here until it has been scored once.
HELD_OUT = ""
TIGHTNESS = (0.4, 0.45, 0.5, 0.55, 0.6)
SUBSETS = ((0.5, "sub50"), (0.25, "sub25"))
COLUMNS = [f"t{t:.2f}" for t in TIGHTNESS] + ["head3"] + [name for _, name in SUBSETS]


def score(truth: list[str], labels: list[int]) -> tuple[float, float, int]:
    by: dict[int, Counter] = defaultdict(Counter)
    for label, topic in zip(labels, truth):
        by[label][topic] += 1
    purity = sum(c.most_common(1)[0][1] for c in by.values()) / len(labels)
    return adjusted_rand_score(truth, labels), purity, len(by)


def sample_scores(texts: list[str], truth: list[str]) -> dict[str, tuple[float, float, int]]:
    out = {}
    vectors = semantic.embed(texts)
    for t in TIGHTNESS:
        out[f"t{t:.2f}"] = score(truth, semantic.cluster(vectors, tightness=t, texts=texts))
    default = facets.HEAD_MIN_COUNT
    facets.HEAD_MIN_COUNT = 3
    try:
        vectors = semantic.embed(texts)
    finally:
        facets.HEAD_MIN_COUNT = default
    out["head3"] = score(truth, semantic.cluster(vectors, texts=texts))
    for fraction, name in SUBSETS:
        rng = np.random.default_rng(1234 + int(fraction * 100))
        pick = np.sort(rng.choice(len(texts), int(fraction * len(texts)), replace=False))
        sub_texts, sub_truth = [texts[i] for i in pick], [truth[i] for i in pick]
        out[name] = score(sub_truth, semantic.cluster(semantic.embed(sub_texts), texts=sub_texts))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", help="only samples whose file name contains this")
    args = parser.parse_args()
    paths = [p for p in sorted((ROOT / "tests" / "fixtures").glob("keywords_labeled_*.csv")) if p.name != HELD_OUT]
    results: dict[str, list[tuple[float, float, int]]] = {c: [] for c in COLUMNS}
    for path in paths:
        if args.sample and args.sample not in path.name:
            continue
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        scores = sample_scores([r["Keyword"] for r in rows], [r["topic"] for r in rows])
        for column in COLUMNS:
            results[column].append(scores[column])
        name = path.stem.removeprefix("keywords_labeled_")
        print(f"{name:<9} " + " ".join(f"{c} {a:.3f}/{p:.3f}({k})" for c, (a, p, k) in scores.items()), flush=True)
    print(f"{'column':<7} {'min ARI':>8} {'mean ARI':>9} {'min purity':>11} {'mean purity':>12} {'mean clusters':>14}")
    every_ari, every_purity = [], []
    for column in COLUMNS:
        aris = [a for a, _, _ in results[column]]
        purities = [p for _, p, _ in results[column]]
        every_ari += aris
        every_purity += purities
        clusters = np.mean([k for _, _, k in results[column]])
        print(f"{column:<7} {min(aris):8.3f} {np.mean(aris):9.3f} {min(purities):11.3f} {np.mean(purities):12.3f}"
              f" {clusters:14.1f}")
    print(f"{'all':<7} {min(every_ari):8.3f} {np.mean(every_ari):9.3f} {min(every_purity):11.3f}"
          f" {np.mean(every_purity):12.3f}")


if __name__ == "__main__":
    main()
