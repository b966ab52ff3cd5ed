"""Offline semantic keyword clustering: local embeddings + scalable average-linkage clusters.

Embedding is two passes, both with models shipped in the repo and loaded from local files only:

1. A static model distilled from all-MiniLM-L6-v2 (scripts/build_embedding_model.py,
   app/data/embedding_model/) gives every word a vector; a keyword's plain vector is the weighted mean
   of its words. These decide which words of this selection are modifiers. A short generic list (stop
   words, price and question words) gives a prior for tiny selections; then keywords are grouped once
   by their plain vectors, and a word whose keywords are scattered over many groups ("small business",
   "near me", "2026", "in texas") is a modifier, while a word whose keywords stay together is a topic
   word. Nothing industry specific is listed, so a new industry's modifiers are found the same way.
2. Each keyword's core (its words without those modifiers) is read as one phrase by all-MiniLM-L6-v2
   itself, run as int8 ONNX (scripts/build_phrase_model.py, app/data/phrase_model/), once per distinct
   core. A phrase is then more than the mean of its words: "rainy day fund" lands near "emergency
   fund", "airfare" near "cheap flights".
3. Each keyword's vector is pulled a little (CONTEXT_WEIGHT) towards the mean of the keywords that
   share its most specific core word (_with_context): keywords of one topic share its facets under
   different head terms ("ats resume parsing", "recruiting software resume parsing"), so this joins
   synonyms the model does not know, while a category word ("software", "lawyer") is too common in
   the selection to be a keyword's most specific word.
4. Heads that share specific facets in the selection ("celta in korea", "esl teacher in korea") are
   linked, and each head's keywords are pulled towards its linked heads as far as the model places them
   apart (facets.head_context, HEAD_WEIGHT).

Vectors therefore depend on the selection (deterministically): the same keywords always give the same
vectors.

Clustering is average linkage (UPGMA) on cosine distance, cut at a distance set by `tightness`. The
default cut is loose enough to join synonyms the model places apart ("credential manager" / "password
manager"), which also joins some sibling topics ("wedding venues" / "wedding photographer"); those are
split again when the two halves of a cluster use different topic words (_split_siblings, relative to
this selection's typical topic, measured on a tighter reference cut of the same trees that does not move
with the tightness, and its own common words). (A cut moved to the widest dendrogram
gap was tried before and scored worse on new industries.) Exact UPGMA needs an n×n matrix, so large
inputs are cut into k-means partitions of at most PARTITION_SIZE rows, clustered exactly inside each,
and the resulting sub-clusters are merged across partitions by UPGMA on their sums (mean pairwise cosine
between two groups is sum_A·sum_B / (|A||B|), so this is the same criterion, not an approximation of
it). Clusters under half the mean cluster size then join the closest larger cluster when close enough
(_absorb_small), sibling topics are split (with the keyword texts), and clusters larger than
max_cluster_size are split along their own dendrogram. Exact work is bounded per partition, so time
grows about linearly with n and memory is
O(n·d + PARTITION_SIZE² + DENSE_MERGE_LIMIT²).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.services.planner.facets import head_context
from app.services.planner.keyword_words import MODIFIERS, _word_weights, _words
from app.services.planner.linkage import average_linkage as _average_linkage
from app.services.planner.linkage import upgma_groups as _upgma_groups
from app.services.planner.phrases import PHRASE_DIM, encode_phrases
from app.services.planner.phrases import normalise as _normalise
from app.services.planner.siblings import cosine_condensed as _cosine_condensed
from app.services.planner.siblings import split_siblings as _split_siblings

MODEL_DIR = Path(__file__).resolve().parents[2] / "data" / "embedding_model"
MODEL_NAME = "MiniLM-L6 (distilled words + int8 ONNX phrases, offline)"
BUILD_SCRIPT = "scripts/build_embedding_model.py"
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")
# A word whose (prior × selection) weight is below this is a modifier and is left out of the keyword's core.
CORE_MIN_WEIGHT = 0.35
CORE_PASSES = 2
# Weight of the pull towards the keywords sharing a keyword's most specific core word (_with_context).
CONTEXT_WEIGHT = 0.2
# Weight of the pull towards the heads that share facets with a keyword's head (facets.head_context),
# times the head's distance to them.
HEAD_WEIGHT = 1.5
DEFAULT_TIGHTNESS = 0.5
# Cosine distance cut at tightness 0.0, 0.5 and 1.0 (linear in between); near 0.1 keywords of one topic
# also part by intent modifier. The default sits loose enough to join synonyms the model places apart;
# sibling topics that this also joins are split again by _split_siblings, which adapts to the data.
THRESHOLD_ANCHORS = ((0.0, 0.80), (0.5, 0.57), (1.0, 0.10))
# Below this many keywords the size-relative steps (_absorb_small, _split_siblings) are skipped.
ADAPT_MIN_ROWS = 50
# A new keyword is scored against a normalised centroid, which sits closer to every member than the
# members sit to each other on average, so assignment uses a proportionally smaller cut.
ASSIGN_FACTOR = 0.75
PARTITION_SIZE = 2000
DENSE_MERGE_LIMIT = 4000
SEED = 0
# After the cut, clusters under SMALL_FRACTION of the mean cluster size may join a larger one (_absorb_small);
# not below ADAPT_MIN_ROWS keywords, where a mean cluster size says little.
ABSORB_SMALL = True
SMALL_FRACTION = 0.5
ABSORB_FACTOR = 1.1
ABSORB_ROUNDS = 3
# Sibling split (_split_siblings), only when the keyword texts are given.
SPLIT_SIBLINGS = True
# The split measures this selection's typical topic on a second, tighter cut of the same trees, at this
# fraction of the default cut whatever the tightness: the cut itself may have joined whole industries.
REFERENCE_FACTOR = 0.8
SPREAD_MIN_ROWS = 20
SPREAD_GROUP_SIZE = 50
SPREAD_MAX_GROUPS = 300
SPREAD_FIT_ROWS = 10_000
SPREAD_ROUNDS = 8
SPREAD_FLOOR = 0.1


_model = None
_model_lock = threading.Lock()


def _load_model():
    """Load the shipped static model once per process, from local files only."""
    global _model
    with _model_lock:
        if _model is None:
            missing = [f for f in MODEL_FILES if not (MODEL_DIR / f).is_file()]
            if missing:
                raise RuntimeError(
                    f"Offline embedding model not found in {MODEL_DIR} (missing {', '.join(missing)}). "
                    f"Build it once with `python {BUILD_SCRIPT}` and commit the generated files."
                )
            # A local folder never reaches the Hub; the flag makes sure nothing can fall back to it.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from model2vec import StaticModel

            _model = StaticModel.from_pretrained(MODEL_DIR, force_download=False)
        return _model


def embed(texts: list[str]) -> np.ndarray:
    """Embed texts offline as float32 L2-normalised rows (a text with no words gives a zero row).

    Two passes: the static word vectors find which words of this selection are modifiers (see
    _spread_weights); then each keyword's core (its words without those modifiers) is read as one
    phrase by the shipped transformer, once per distinct core; last, each vector is pulled towards the
    keywords that share its most specific core word (_with_context).
    """
    from scipy.sparse import csr_matrix

    model = _load_model()
    vocabulary: dict[str, int] = {}
    indptr, indices, weights = [0], [], []
    for text in texts:
        words = _words(text)
        indices.extend(vocabulary.setdefault(w, len(vocabulary)) for w in words)
        weights.extend(_word_weights(words))
        indptr.append(len(indices))
    if not vocabulary:
        return np.zeros((len(texts), PHRASE_DIM), dtype=np.float32)
    # Each distinct word is embedded once; unit length so a word split into many sub-tokens
    # does not count for more (or less) than a whole-word token.
    word_vectors = _normalise(model.encode(list(vocabulary), normalize=False, use_multiprocessing=False))
    mix = csr_matrix((np.array(weights, np.float32), indices, indptr), shape=(len(texts), len(vocabulary)))
    # Words spread across unrelated groups of this selection are modifiers ("small business", "near me",
    # a year, a city); the rest of each keyword is its core, read as one phrase. The groups come from the
    # plain word-mean vectors first, then (CORE_PASSES > 1) from the phrase vectors of the pass before.
    plain = _normalise(np.asarray(mix @ word_vectors))
    words_by_id = list(vocabulary)
    encoded: dict[str, np.ndarray] = {}
    for _ in range(CORE_PASSES):
        spread = _spread_weights(mix, plain)
        cores = _cores(words_by_id, indptr, indices, weights, spread)
        fresh = sorted(set(cores) - set(encoded) - {""})
        encoded.update(zip(fresh, encode_phrases(fresh)))
        zero = np.zeros(PHRASE_DIM, np.float32)
        plain = np.vstack([encoded.get(core, zero) for core in cores]) if cores else np.zeros((0, PHRASE_DIM))
    if CONTEXT_WEIGHT > 0 and len(texts) >= SPREAD_MIN_ROWS:
        linked = head_context(plain, cores) if HEAD_WEIGHT > 0 else None
        plain = _with_context(plain, cores)
        if linked is not None:
            context, head = linked
            _pull(plain, head, context, HEAD_WEIGHT)
    return np.asarray(plain, dtype=np.float32)


def _with_context(vectors: np.ndarray, cores: list[str]) -> np.ndarray:
    """Each keyword's phrase vector pulled towards the keywords that share its most specific core word.

    A keyword's rarest core word that at least one other keyword also has (fewest keywords, so a facet
    such as "custody" or "resume parsing" before a category word such as "lawyer" or "software") links
    it to the other keywords of its topic, including those under a synonym the model does not know
    ("ats resume parsing" meets "applicant tracking system resume parsing"). The pull is the normalised
    mean phrase vector of the keywords with that word, added with CONTEXT_WEIGHT.
    """
    from scipy.sparse import csr_matrix

    vocabulary: dict[str, int] = {}
    ids = [sorted({vocabulary.setdefault(w, len(vocabulary)) for w in core.split()}) for core in cores]
    if not vocabulary:
        return vectors
    rows = [i for i, words in enumerate(ids) for _ in words]
    incidence = csr_matrix((np.ones(len(rows), np.float32), (rows, [w for words in ids for w in words])),
                           shape=(len(cores), len(vocabulary)))
    df = np.asarray(incidence.sum(axis=0)).ravel()
    word_context = _normalise(np.asarray(incidence.T @ vectors))
    chosen = np.array([min((w for w in words if df[w] >= 2), key=lambda w: (df[w], w), default=-1)
                       for words in ids])
    return _pull(np.asarray(vectors, dtype=np.float32), chosen, word_context, CONTEXT_WEIGHT)


def _pull(out: np.ndarray, pick: np.ndarray, towards: np.ndarray, weight: float) -> np.ndarray:
    """Rows of `out` (changed in place) plus weight × towards[pick] where pick >= 0, normalised again.

    In blocks: no second n×d matrix at 50k keywords."""
    for start in range(0, len(out), 8192):
        block, chosen = out[start:start + 8192], pick[start:start + 8192]
        block[chosen >= 0] += weight * towards[chosen[chosen >= 0]]
        block[:] = _normalise(block)
    return out


def _cores(words_by_id: list[str], indptr: list[int], indices: list[int], weights: list[float],
           spread: np.ndarray) -> list[str]:
    """Each keyword's words whose (prior × selection) weight reaches CORE_MIN_WEIGHT, as one phrase."""
    cores: list[str] = []
    for row in range(len(indptr) - 1):
        ids = indices[indptr[row]:indptr[row + 1]]
        if not ids:
            cores.append("")
            continue
        weight = [weights[i] * float(spread[w]) for i, w in zip(range(indptr[row], indptr[row + 1]), ids)]
        kept = [words_by_id[w] for w, x in zip(ids, weight) if x >= CORE_MIN_WEIGHT]
        cores.append(" ".join(kept) if kept else words_by_id[ids[int(np.argmax(weight))]])
    return cores


def _spread_weights(mix, plain: np.ndarray) -> np.ndarray:
    """A factor in [SPREAD_FLOOR, 1] per word: how much of its keywords fall in one group of the selection.

    The keywords are grouped once by their plain embedding (k-means, about SPREAD_GROUP_SIZE per group).
    A topic word ("payroll", "rainy day fund") keeps its keywords together; a modifier ("for small
    business", "near me", "2026", "in texas") is scattered over many groups. The share is chance-corrected
    ((top - 1) / (df - 1)), so a word seen in few keywords is not called a topic word by luck; words in
    fewer than three keywords keep full weight.
    """
    from scipy.sparse import csr_matrix

    rows, vocab = mix.shape
    if rows < SPREAD_MIN_ROWS:
        return np.ones(vocab, dtype=np.float32)
    k = min(max(2, rows // SPREAD_GROUP_SIZE), SPREAD_MAX_GROUPS)
    groups = _spherical_kmeans(plain, k)
    present = csr_matrix((np.ones(mix.nnz, np.float32), mix.indices, mix.indptr), shape=mix.shape)
    membership = csr_matrix((np.ones(rows, np.float32), (np.arange(rows), groups)), shape=(rows, k))
    counts = (present.T @ membership).toarray()
    df, top = counts.sum(axis=1), counts.max(axis=1)
    share = np.where(df >= 3, (top - 1) / np.maximum(df - 1, 1), 1.0)
    return np.clip(np.sqrt(share), SPREAD_FLOOR, 1.0).astype(np.float32)


def _spherical_kmeans(vectors: np.ndarray, k: int) -> np.ndarray:
    """k-means on unit vectors by cosine, centres fitted on a seeded sample: cheap and deterministic."""
    rng = np.random.default_rng(SEED)
    fit = vectors[rng.choice(len(vectors), min(len(vectors), SPREAD_FIT_ROWS), replace=False)]
    centres = fit[rng.choice(len(fit), k, replace=False)]
    for _ in range(SPREAD_ROUNDS):
        nearest = (fit @ centres.T).argmax(axis=1)
        sums = _group_sums(fit, nearest)
        sums = np.vstack([sums, np.zeros((k - len(sums), fit.shape[1]), np.float32)])
        empty = ~sums.any(axis=1)
        sums[empty] = centres[empty]
        centres = _normalise(sums)
    return np.concatenate([(vectors[i:i + 8192] @ centres.T).argmax(axis=1)
                           for i in range(0, len(vectors), 8192)])


def distance_threshold(tightness: float) -> float:
    """Cosine distance at which clusters stop merging, for a tightness in [0, 1]."""
    points, cuts = zip(*THRESHOLD_ANCHORS)
    return float(np.interp(min(max(float(tightness), 0.0), 1.0), points, cuts))


def centroids(vectors: np.ndarray, labels: list[int] | np.ndarray) -> np.ndarray:
    """Normalised mean vector of every label 0..max(labels)."""
    labels = np.asarray(labels, dtype=np.int64)
    return _normalise(_group_sums(np.asarray(vectors, dtype=np.float32), labels))


def _group_sums(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Row sums per label 0..max(labels), as a (k, d) matrix."""
    from scipy.sparse import csr_matrix

    k = int(labels.max()) + 1 if len(labels) else 0
    rows = np.arange(len(labels))
    membership = csr_matrix((np.ones(len(labels), np.float32), (labels, rows)), shape=(k, len(labels)))
    return np.asarray(membership @ vectors)


def assign_to_existing(
    vectors: np.ndarray, centroids: np.ndarray, *, tightness: float = DEFAULT_TIGHTNESS
) -> list[int | None]:
    """Index of the nearest centroid for each vector when close enough at this tightness, else None."""
    vectors = np.asarray(vectors, dtype=np.float32)
    centres = np.asarray(centroids, dtype=np.float32)
    if len(vectors) == 0 or len(centres) == 0:
        return [None] * len(vectors)
    cut = 1.0 - distance_threshold(tightness) * ASSIGN_FACTOR
    result: list[int | None] = []
    for start in range(0, len(vectors), 4096):
        similarity = vectors[start : start + 4096] @ centres.T
        best = similarity.argmax(axis=1)
        best_similarity = similarity[np.arange(len(best)), best]
        result.extend(int(b) if s >= cut else None for b, s in zip(best, best_similarity))
    return result


def cluster(
    vectors: np.ndarray,
    *,
    tightness: float = DEFAULT_TIGHTNESS,
    max_cluster_size: int = 200,
    progress: Callable[[float, str], None] | None = None,
    texts: list[str] | None = None,
) -> list[int]:
    """A cluster label 0..k-1 for every row (no noise label), numbered by first appearance.

    With `texts` (the keywords the rows were embedded from), clusters that are two sibling topics
    are also split apart by the words each half uses (_split_siblings).
    """
    report = progress or (lambda fraction, message: None)
    if len(vectors) == 0:
        return []
    vectors = _normalise(np.asarray(vectors, dtype=np.float32))
    max_size = max(1, int(max_cluster_size))
    labels = np.full(len(vectors), -1, dtype=np.int64)
    live = np.flatnonzero(np.linalg.norm(vectors, axis=1) > 0)
    threshold = distance_threshold(tightness)
    words = None
    if texts is not None:
        if len(texts) != len(vectors):
            raise ValueError("texts must give one keyword per row of vectors")
        words = [[w for w in _words(text) if w not in MODIFIERS] for text in texts]

    if len(live) > PARTITION_SIZE:
        report(0.02, f"Dividing {len(live):,} keywords into parts of related ones…")
    partitions = _partition(vectors, live, PARTITION_SIZE)
    next_label = 0
    # The reference cut (per partition; it only measures the typical topic for _split_siblings).
    reference = np.full(len(vectors), -1, dtype=np.int64)
    reference_cut, next_reference = REFERENCE_FACTOR * distance_threshold(DEFAULT_TIGHTNESS), 0
    for done, members in enumerate(partitions, start=1):
        sub, tight = _average_linkage(vectors[members], threshold, reference_cut)
        labels[members] = sub + next_label
        next_label += int(sub.max()) + 1
        reference[members] = tight + next_reference
        next_reference += int(tight.max()) + 1
        report(0.05 + 0.75 * done / len(partitions), f"Grouped part {done} of {len(partitions)}…")
    if len(partitions) > 1:
        report(0.85, "Joining close groups across parts…")
        labels[live] = _merge_groups(vectors[live], labels[live], threshold)
    if ABSORB_SMALL and len(live) >= ADAPT_MIN_ROWS:
        labels[live] = _absorb_small(vectors[live], labels[live], threshold)
    if words is not None and SPLIT_SIBLINGS and len(live) >= ADAPT_MIN_ROWS:
        labels[live] = _split_siblings(vectors[live], labels[live], [words[i] for i in live],
                                       reference=reference[live], max_group=PARTITION_SIZE)
    report(0.95, "Splitting very large clusters…")
    labels = _split_oversized(vectors, labels, max_size)

    # Texts without any words cannot be placed by meaning; they share their own cluster(s).
    empty = np.flatnonzero(labels < 0)
    for chunk in np.array_split(empty, math.ceil(len(empty) / max_size)) if len(empty) else []:
        labels[chunk] = labels.max() + 1
    return _by_first_appearance(labels)


def _partition(vectors: np.ndarray, members: np.ndarray, size: int) -> list[np.ndarray]:
    """Split row indices into k-means groups of at most `size` rows (half that on average)."""
    if len(members) <= size:
        return [members] if len(members) else []
    assigned = _spherical_kmeans(vectors[members], math.ceil(2 * len(members) / size))
    groups = [members[assigned == g] for g in np.unique(assigned)]
    if len(groups) == 1:  # identical rows: k-means cannot separate them
        return [chunk for chunk in np.array_split(members, math.ceil(len(members) / size))]
    return [part for group in groups for part in _partition(vectors, group, size)]


def _merge_groups(vectors: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """Continue UPGMA from the given groups (e.g. across partitions) until the threshold."""
    _, labels = np.unique(labels, return_inverse=True)
    for _ in range(4):
        sums = _group_sums(vectors, labels)
        counts = np.bincount(labels).astype(np.float32)
        if len(counts) <= DENSE_MERGE_LIMIT:
            return _upgma_groups(sums, counts, threshold)[labels]
        # Too many groups for one dense matrix: merge inside k-means blocks of groups, then retry.
        blocks = _partition(_normalise(sums), np.arange(len(counts)), DENSE_MERGE_LIMIT)
        mapping = np.empty(len(counts), dtype=np.int64)
        offset = 0
        for block in blocks:
            merged = _upgma_groups(sums[block], counts[block], threshold)
            mapping[block] = merged + offset
            offset += int(merged.max()) + 1
        if offset == len(counts):
            break
        labels = mapping[labels]
    return labels


def _absorb_small(vectors: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """Fold clusters much smaller than this selection's average into the closest larger one, if close.

    An average-linkage cut leaves fragments of a topic (a synonym the model places a little apart, a
    few keywords with a rare facet) as small clusters of their own. A cluster under SMALL_FRACTION of the
    mean cluster size joins the larger cluster its members are most similar to on average, when that
    mean similarity is at least 1 - ABSORB_FACTOR × the cut (so tightness governs this step too).
    """
    _, labels = np.unique(labels, return_inverse=True)
    floor = 1.0 - ABSORB_FACTOR * threshold
    for _ in range(ABSORB_ROUNDS):
        counts = np.bincount(labels)
        small = counts < SMALL_FRACTION * len(labels) / len(counts)
        large = np.flatnonzero(~small)
        if not small.any() or len(large) == 0:
            break
        sums = _group_sums(vectors, labels)
        centres = _normalise(sums[large])
        target = np.arange(len(counts))
        moved = False
        for chunk in np.array_split(np.flatnonzero(small), math.ceil(small.sum() / 1024)):
            similarity = (sums[chunk] @ centres.T) / counts[chunk, None]
            best = similarity.argmax(axis=1)
            close = similarity[np.arange(len(chunk)), best] >= floor
            target[chunk[close]] = large[best[close]]
            moved |= bool(close.any())
        if not moved:
            break
        labels = np.unique(target[labels], return_inverse=True)[1]
    return labels


def _split_oversized(vectors: np.ndarray, labels: np.ndarray, max_size: int) -> np.ndarray:
    """Split every cluster above max_size along its own dendrogram so no cluster is a catch-all."""
    from scipy.cluster.hierarchy import fcluster, linkage

    labels = labels.copy()
    counts = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(0, dtype=np.int64)
    next_label = len(counts)
    for oversized in np.flatnonzero(counts > max_size):
        pending, pieces = [np.flatnonzero(labels == oversized)], []
        while pending:
            group = pending.pop()
            if len(group) <= max_size:
                pieces.append(group)
                continue
            k = math.ceil(len(group) / max_size)
            if len(group) <= PARTITION_SIZE:
                tree = linkage(_cosine_condensed(vectors[group]), method="average")
                sub = fcluster(tree, t=k, criterion="maxclust") - 1
            else:
                sub = _spherical_kmeans(vectors[group], k)
            parts = [group[sub == s] for s in np.unique(sub)]
            if len(parts) == 1:  # indistinguishable rows
                pieces.extend(np.array_split(group, k))
            else:
                pending.extend(parts)
        for piece in pieces[1:]:
            labels[piece] = next_label
            next_label += 1
    return labels


def _by_first_appearance(labels: np.ndarray) -> list[int]:
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse].tolist()


def cluster_keywords(
    texts: list[str],
    *,
    tightness: float = DEFAULT_TIGHTNESS,
    max_cluster_size: int = 200,
    progress: Callable[[float, str], None] | None = None,
) -> list[int]:
    """Embed and cluster keywords; progress(fraction, message) is called along the way."""
    report = progress or (lambda fraction, message: None)
    report(0.0, f"Embedding {len(texts)} keywords")
    vectors = embed(texts)
    report(0.2, "Clustering")
    labels = cluster(
        vectors,
        tightness=tightness,
        max_cluster_size=max_cluster_size,
        progress=lambda fraction, message: report(0.2 + 0.8 * fraction, message),
        texts=texts,
    )
    report(1.0, f"{len(set(labels))} clusters")
    return labels
