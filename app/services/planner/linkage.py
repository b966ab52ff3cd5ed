"""Average linkage (UPGMA) on cosine distance: exact over keyword vectors, and over groups given their sums.

Used by semantic.py; kept apart because both are plain numerical routines with no knowledge of keywords.
"""

from __future__ import annotations

import numpy as np

from app.services.planner.siblings import cosine_condensed


def average_linkage(vectors: np.ndarray, *thresholds: float) -> list[np.ndarray]:
    """Exact UPGMA on cosine distance, one tree cut at each threshold; labels from 0 per cut."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(vectors) < 2:
        return [np.zeros(len(vectors), dtype=np.int64) for _ in thresholds]
    tree = linkage(cosine_condensed(vectors), method="average")
    return [fcluster(tree, t=t, criterion="distance").astype(np.int64) - 1 for t in thresholds]


def upgma_groups(sums: np.ndarray, counts: np.ndarray, threshold: float) -> np.ndarray:
    """Weighted UPGMA over groups given their vector sums, by nearest-neighbour chain; O(k²)."""
    means = sums / counts[:, None]
    distance = 1.0 - means @ means.T
    np.fill_diagonal(distance, np.inf)
    size = counts.copy()
    parent = np.arange(len(counts))
    open_ = np.ones(len(counts), dtype=bool)
    chain: list[int] = []
    while True:
        if not chain:
            candidates = np.flatnonzero(open_)
            if len(candidates) < 2:
                break
            chain = [int(candidates[0])]
        a = chain[-1]
        b = int(np.argmin(distance[a]))
        if len(chain) > 1 and distance[a, chain[-2]] <= distance[a, b]:
            b = chain[-2]
        if distance[a, b] > threshold:
            # Average linkage is reducible: a group this far from everything never merges again.
            open_[a] = False
            distance[a, :] = distance[:, a] = np.inf
            chain.pop()
        elif len(chain) > 1 and b == chain[-2]:
            del chain[-2:]
            merged = (size[a] * distance[a] + size[b] * distance[b]) / (size[a] + size[b])
            distance[a, :] = distance[:, a] = merged
            distance[a, a] = np.inf
            distance[b, :] = distance[:, b] = np.inf
            size[a] += size[b]
            parent[b] = a
            open_[b] = False
        else:
            chain.append(b)
    for i in range(len(parent)):
        root = i
        while parent[root] != root:
            root = parent[root]
        parent[i] = root
    return np.unique(parent, return_inverse=True)[1]
