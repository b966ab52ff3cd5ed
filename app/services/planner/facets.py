"""Head terms and facets of a selection, for semantic clustering: synonyms the phrase model does not know.

In a keyword export a topic's head terms appear alone and combined with the topic's own facets: "celta"
and "esl teacher" both alone and in "celta in korea" / "esl teacher in korea"; "perseids" and "meteor
shower" in "perseids peak" / "meteor shower peak". The selection itself says which cores are heads (a core
that is the whole core of at least HEAD_MIN_COUNT keywords) and which cores are a head plus a remainder:
the remainder is a facet of the longest head the core starts or ends with ("pandemic board game solo mode"
is the head "pandemic board game" with the facet "solo mode", not "board game" with "pandemic ... solo
mode"). Heads that share a facet are linked. A facet is weaker the more different words it combines with
anywhere in the selection (its partners, heads or not): each pair of heads it links counts
1 / (partners - 1), and a facet with more than FACET_MAX_PARTNERS partners ("rules", "app", "price",
"online", "software") names a category or a modifier and counts for nothing. Each head's keywords are then
pulled (semantic.HEAD_WEIGHT) towards the link-weighted mean of the linked heads' phrase vectors, in
proportion to how far the head is from that mean, so rosetta stone meets babbel and language app, which
the model places apart, while heads the model already places together are left as they are. Nothing is listed: everything
comes from the selection.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from app.services.planner.phrases import normalise

# A core is a head when it is the whole core of at least this many keywords.
HEAD_MIN_COUNT = 2
# A facet that combines with more different words than this is a category word or a modifier.
FACET_MAX_PARTNERS = 8
# ... or with more than this share of the selection's heads: in a selection of a few heads ("espresso",
# "french press"), a facet they all take ("machine", "ratio") is what the selection is about, not a sign
# that the heads mean the same.
FACET_MAX_SHARE = 0.25
# A head's pull reaches full weight once its links add up to this much evidence (a facet it shares with
# all the facet's partners counts 1.0; one shared with fewer, proportionally less).
HEAD_EVIDENCE = 1.0


def head_context(vectors: np.ndarray, cores: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """(context per head, head index per keyword or -1), or None when the selection links no heads.

    A head's context is the normalised, link-weighted mean of the phrase vectors of the heads that share
    facets with it, scaled by min(1, evidence / HEAD_EVIDENCE) and by the head's cosine distance to that
    mean (capped at 1); a keyword belongs to the head its core is,
    or to the longest head its core starts or ends with.
    """
    from scipy.sparse import csr_matrix

    counts = Counter(cores)
    heads: dict[str, int] = {}
    first: list[int] = []
    for row, core in enumerate(cores):
        if core and counts[core] >= HEAD_MIN_COUNT and core not in heads:
            heads[core] = len(heads)
            first.append(row)
    if len(heads) < 2:
        return None
    facets: dict[str, int] = {}
    pairs: set[tuple[int, int]] = set()
    head_of: dict[str, int] = {}
    partners: dict[str, set[str]] = {}
    for core in counts:
        words = core.split()
        best: tuple[int, str, str] | None = None
        for k in range(1, len(words)):
            left, right = " ".join(words[:k]), " ".join(words[k:])
            for head, facet in ((left, right), (right, left)):
                partners.setdefault(facet, set()).add(head)
                if head in heads and (best is None or (len(head.split()), head) > best[:2]):
                    best = (len(head.split()), head, facet)
        if best is not None:
            pairs.add((facets.setdefault(best[2], len(facets)), heads[best[1]]))
        if core in heads:
            head_of[core] = heads[core]
        elif best is not None:
            head_of[core] = heads[best[1]]
    if not pairs:
        return None
    facet_rows, head_cols = zip(*sorted(pairs))
    incidence = csr_matrix((np.ones(len(pairs), np.float32), (facet_rows, head_cols)),
                           shape=(len(facets), len(heads)))
    linked = np.asarray(incidence.sum(axis=1)).ravel()  # heads per facet
    size = np.array([len(partners[facet]) for facet in facets], dtype=np.float32)  # partners per facet
    specific = (size <= FACET_MAX_PARTNERS) & (size <= FACET_MAX_SHARE * len(heads))
    weight = np.where((linked >= 2) & specific, 1.0 / np.maximum(size - 1, 1), 0.0)
    weight = weight.astype(np.float32)
    if not weight.any():
        return None
    head_vectors = np.asarray(vectors[first], dtype=np.float32)
    # Sum over shared facets of weight × the other heads' vectors: B'(w ⊙ B M) less each head's own share.
    context = np.asarray(incidence.T @ (weight[:, None] * np.asarray(incidence @ head_vectors)))
    context -= np.asarray(incidence.T @ weight).ravel()[:, None] * head_vectors
    evidence = np.asarray(incidence.T @ (weight * (linked - 1))).ravel()
    # Only as far as the head is from its linked heads: a head the model already places near them needs no
    # pull, and pulling it anyway tightens the whole topic, which brings sibling topics under the cut.
    context = normalise(context)
    gap = np.clip(1.0 - np.einsum("ij,ij->i", context, head_vectors), 0.0, 1.0)
    context *= (np.minimum(1.0, evidence / HEAD_EVIDENCE) * gap)[:, None].astype(np.float32)
    index = np.array([head_of.get(core, -1) for core in cores], dtype=np.int64)
    return context, index
