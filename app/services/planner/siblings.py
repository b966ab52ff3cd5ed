"""The sibling split of semantic clustering: a loose cut joins synonyms the model places apart, and also
sibling topics ("wedding venues" / "wedding photographer"); a cluster whose two halves use different topic
words is cut in two again. Everything is relative to the selection (its typical topic size, its own common
words), so nothing is tuned to an industry.

The typical topic is measured on a reference partition (semantic.py: a tighter cut of the same trees, at a
fixed fraction of the default cut), not on the clusters being split: where the cut has joined sibling topics
or whole industries, the median of its clusters is itself a merged size, and a split whose halves must be
"sizeable" against it cannot undo the merge (one tuning sample collapsed to its four industries at
tightness 0.4). The reference's size is keyword-weighted (the size of the reference cluster the median
keyword is in), so the many fragments a tight cut leaves do not pull it down. It is taken once; re-taking
a median after each round let every split lower the bar for the next."""

from __future__ import annotations

import numpy as np

from app.services.planner.phrases import normalise

SEED = 0
SIBLING_ROUNDS = 6
SIBLING_MIN_SIZE = 1.0
SIBLING_BALANCED = 0.6
SIBLING_OVERLAP = 0.3
SIBLING_DISJOINT = 0.3
SIBLING_COMMON = 0.2
SIBLING_SAMPLE = 400


def cosine_condensed(vectors: np.ndarray) -> np.ndarray:
    """Condensed cosine distances of unit rows (as scipy's pdist gives), by one matrix product."""
    distance = 1.0 - vectors @ vectors.T
    upper = np.triu_indices(len(vectors), k=1)
    return np.maximum(distance[upper], 0.0).astype(np.float64)


def split_siblings(vectors: np.ndarray, labels: np.ndarray, words: list[list[str]], *,
                   reference: np.ndarray | None = None, max_group: int) -> np.ndarray:
    """Split clusters that are two sibling topics ("wedding venues" + "wedding photographer").

    Each cluster above SIBLING_MIN_SIZE × the typical topic size (_typical: keyword-weighted median
    size of the `reference` partition's clusters, by default of `labels`; taken once, before any split) is
    cut in two along its own dendrogram, at two candidate splits, each the highest whose smaller side
    is large enough for one of the tests below: first for the balanced test, then for the disjoint one. Two halves of one topic share the topic's facet words ("browser extension" after both
    "password manager" and "credential manager"); two sibling topics share at most their category
    word ("wedding", "coffee"). So the halves part when the topic words each uses at least twice
    overlap little (Jaccard under SIBLING_OVERLAP) and both halves are sizeable, or when they share no
    such word at all and the smaller half is still a real group. Words found in more than
    SIBLING_COMMON of the reference clusters at least SIBLING_DISJOINT × typical in size ("near", "2026",
    "small business") are modifiers here and ignored (counted on the reference, since a cut into a few
    whole industries has every word in a fifth of its clusters).
    """
    from collections import Counter

    _, labels = np.unique(labels, return_inverse=True)
    typical, common = _typical(labels if reference is None else reference, words)
    settled: set[int] = set()  # clusters tested and kept whole (their members have not changed since)
    for _ in range(SIBLING_ROUNDS):
        counts = np.bincount(labels)
        members = np.split(np.argsort(labels, kind="stable"), np.cumsum(counts)[:-1])
        next_label, changed = len(counts), False
        for label in np.flatnonzero(counts > SIBLING_MIN_SIZE * typical):
            if label in settled:
                continue
            settled.add(int(label))
            group = members[label]
            if len(group) > max_group:  # exact trees only up to the partition size
                continue
            for half in _bisect(vectors[group], (SIBLING_BALANCED * typical, SIBLING_DISJOINT * typical)):
                used = []
                for side in (0, 1):
                    seen = Counter(w for i in group[half == side] for w in words[i] if w not in common)
                    used.append({w for w, n in seen.items() if n >= 2})
                shared, either = len(used[0] & used[1]), len(used[0] | used[1])
                smaller = int(np.bincount(half).min())
                overlap = shared / either if either else 1.0
                if ((smaller >= SIBLING_BALANCED * typical and overlap < SIBLING_OVERLAP)
                        or (shared == 0 and either > 0 and smaller >= SIBLING_DISJOINT * typical)):
                    labels[group[half == 1]] = next_label
                    settled.discard(int(label))
                    next_label += 1
                    changed = True
                    break
        if not changed:
            break
    return labels


def _typical(reference: np.ndarray, words: list[list[str]]) -> tuple[float, set[str]]:
    """(typical topic size, common words) of a reference partition.

    The size is the keyword-weighted median cluster size (the size of the cluster the median keyword is
    in); the common words are those in more than SIBLING_COMMON of its clusters of at least
    SIBLING_DISJOINT × that size.
    """
    from collections import Counter

    _, reference = np.unique(reference, return_inverse=True)
    counts = np.bincount(reference)
    typical = float(np.median(np.repeat(counts, counts)))
    spread: Counter = Counter()
    kept = 0
    order = np.argsort(reference, kind="stable")
    for group in np.split(order, np.cumsum(counts)[:-1]):
        if len(group) >= SIBLING_DISJOINT * typical:
            kept += 1
            spread.update({w for i in group for w in words[i]})
    return typical, {w for w, n in spread.items() if n > SIBLING_COMMON * kept}


def _bisect(vectors: np.ndarray, least: tuple[float, ...]) -> list[np.ndarray]:
    """Two sides (0/1 per row) from the highest dendrogram split whose smaller side has >= `least[k]` rows,
    for each k (one split when several give the same node; none where no split is that large).

    Average linkage often first peels off a few outliers; those are passed over (and later go to the
    side whose centroid they are closer to) so that the split tested is the one between two real groups.
    Above SIBLING_SAMPLE rows the tree is built on a seeded sample and the other rows join a side the same way.
    """
    from scipy.cluster.hierarchy import linkage, to_tree

    sample = np.arange(len(vectors))
    scale = 1.0
    if len(vectors) > SIBLING_SAMPLE:
        sample = np.sort(np.random.default_rng(SEED).choice(len(vectors), SIBLING_SAMPLE, replace=False))
        scale = SIBLING_SAMPLE / len(vectors)
    root = to_tree(linkage(cosine_condensed(vectors[sample]), method="average"))
    sides, seen = [], set()
    for size in least:
        node = root
        while not node.is_leaf():
            left, right = node.get_left(), node.get_right()
            if min(left.get_count(), right.get_count()) >= size * scale:
                break
            node = left if left.get_count() >= right.get_count() else right
        if node.is_leaf() or node.id in seen:
            continue
        seen.add(node.id)
        side = np.full(len(vectors), -1, dtype=np.int64)
        side[sample[left.pre_order()]] = 0
        side[sample[right.pre_order()]] = 1
        rest = np.flatnonzero(side < 0)
        if len(rest):
            centres = normalise(np.vstack([vectors[side == 0].sum(axis=0), vectors[side == 1].sum(axis=0)]))
            side[rest] = (vectors[rest] @ centres.T).argmax(axis=1)
        sides.append(side)
    return sides
