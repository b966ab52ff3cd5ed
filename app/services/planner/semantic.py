"""Offline semantic keyword clustering: local static embeddings + scalable average-linkage clusters.

Embeddings come from a static model distilled from all-MiniLM-L6-v2 (scripts/build_embedding_model.py)
and shipped in app/data/embedding_model/; loading it never touches the network. A keyword vector is
the weighted mean of its words' unit vectors, with SEO modifiers ("best", "near me", "for women",
"2026"…) down-weighted so the topic decides where a keyword goes and the intent only nudges it.

Clustering is average linkage (UPGMA) on cosine distance, cut at a threshold set by `tightness`.
Exact UPGMA needs an n×n matrix, so large inputs are cut into k-means partitions of at most
PARTITION_SIZE rows, clustered exactly inside each, and the resulting sub-clusters are merged
across partitions by UPGMA on their sums (mean pairwise cosine between two groups is
sum_A·sum_B / (|A||B|), so this is the same criterion, not an approximation of it). Clusters
larger than max_cluster_size are then split along their own dendrogram. Exact work is bounded per
partition, so time grows about linearly with n (≈ n × PARTITION_SIZE distance evaluations; measured
~n^1.0 from 10k to 50k) and memory is O(n·d + PARTITION_SIZE² + DENSE_MERGE_LIMIT²).
"""

from __future__ import annotations

import math
import os
import re
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np

MODEL_DIR = Path(__file__).resolve().parents[2] / "data" / "embedding_model"
MODEL_NAME = "MiniLM-L6 (distilled, offline)"
BUILD_SCRIPT = "scripts/build_embedding_model.py"
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")
DEFAULT_TIGHTNESS = 0.5
# Cosine distance cut at tightness 0.0, 0.5 and 1.0 (linear in between). 0.45 is the best cut on the
# labelled sample (topics); near 0.1 keywords of one topic also part by intent modifier.
THRESHOLD_ANCHORS = ((0.0, 0.70), (0.5, 0.45), (1.0, 0.08))
# A new keyword is scored against a normalised centroid, which sits closer to every member than the
# members sit to each other on average, so assignment uses a proportionally smaller cut.
ASSIGN_FACTOR = 0.75
MODIFIER_WEIGHT = 0.3
PARTITION_SIZE = 2000
DENSE_MERGE_LIMIT = 4000
SEED = 0

# Words and phrases that say who/where/why someone searches, not what about.
_MODIFIER_PHRASES = "at home|small spaces|small space|step by step|compared to|how much|free shipping"
_MODIFIER_WORDS = """a an the and or of to for in on at with without by from into about vs versus is are was be
do does did can should will would it its how what when where which who why whats best top rated cheap cheapest
affordable budget buy purchase price prices pricing cost costs sale sales deal deals discount discounts coupon
coupons review reviews rating ratings compare comparison alternative alternatives recommended popular guide
guides tip tips idea ideas tutorial tutorials example examples diy easy simple quick beginner beginners expert
mistakes avoid worth benefits pros cons meaning definition checklist list near me nearby online local shop
store stores delivery shipping order uk usa us canada australia nz ireland india europe london men women mens
womens kids children seniors adults teens students family new latest today choose choosing use using make
work works reddit"""
# Regional and spelling variants that a word-level model cannot see are the same thing.
_VARIANTS = """cafetiere=french press|coffee plunger=french press|filter coffee=drip coffee|hob=stovetop|
cooker hood=range hood|tumble dryer=clothes dryer|nappy=diaper|nappies=diapers|
pram=stroller|pushchair=stroller|aubergine=eggplant|courgette=zucchini|
beetroot=beet|spring onion=scallion|mangetout=snow peas|cling film=plastic wrap|kitchen roll=paper towels|
tin foil=aluminum foil|tea towel=dish towel|oven gloves=oven mitts|washing up liquid=dish soap|
hosepipe=garden hose|secateurs=pruning shears|strimmer=string trimmer|lawnmower=lawn mower|
dog lead=dog leash|dog jumper=dog sweater|postcode=zip code|mum=mom|maths=math|petrol=gasoline|
lorry=truck|motorway=highway|car park=parking lot|mobile phone=cell phone|estate agent=real estate agent|
current account=checking account|dustbin=trash can|rubbish bin=trash can|colour=color|flavour=flavor|
favourite=favorite|behaviour=behavior|odour=odor|mould=mold|grey=gray|tyre=tire|tyres=tires|jewellery=jewelry|
aluminium=aluminum|centre=center|litre=liter|fibre=fiber|catalogue=catalog|programme=program|yoghurt=yogurt|
doughnut=donut|fertiliser=fertilizer|moisturiser=moisturizer|organiser=organizer|sanitiser=sanitizer"""

MODIFIERS = frozenset(_MODIFIER_WORDS.split())
MODIFIER_PHRASES = tuple(tuple(p.split()) for p in _MODIFIER_PHRASES.replace("\n", "").split("|"))
VARIANTS = {tuple(k.split()): v.split() for k, v in (p.split("=") for p in _VARIANTS.replace("\n", "").split("|"))}
_LONGEST_PHRASE = max(len(p) for p in [*MODIFIER_PHRASES, *VARIANTS])
_WORD = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"\d+")

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


def _words(text: str) -> list[str]:
    """Lower-case words with accents folded and regional variants replaced by one spelling."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    words, out, i = _WORD.findall(folded), [], 0
    while i < len(words):
        for size in range(min(_LONGEST_PHRASE, len(words) - i), 0, -1):
            replacement = VARIANTS.get(tuple(words[i : i + size]))
            if replacement:
                out.extend(replacement)
                i += size
                break
        else:
            out.append(words[i])
            i += 1
    return out


def _word_weights(words: list[str]) -> list[float]:
    """1.0 for topic words, MODIFIER_WEIGHT for modifiers; all 1.0 when a keyword is only modifiers."""
    is_modifier = [w in MODIFIERS or bool(_NUMBER.fullmatch(w)) for w in words]
    for phrase in MODIFIER_PHRASES:
        for i in range(len(words) - len(phrase) + 1):
            if tuple(words[i : i + len(phrase)]) == phrase:
                is_modifier[i : i + len(phrase)] = [True] * len(phrase)
    if all(is_modifier):
        return [1.0] * len(words)
    return [MODIFIER_WEIGHT if m else 1.0 for m in is_modifier]


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def embed(texts: list[str]) -> np.ndarray:
    """Embed texts offline as float32 L2-normalised rows (a text with no words gives a zero row)."""
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
        return np.zeros((len(texts), model.dim), dtype=np.float32)
    # Each distinct word is embedded once; unit length so a word split into many sub-tokens
    # does not count for more (or less) than a whole-word token.
    word_vectors = _normalise(model.encode(list(vocabulary), normalize=False, use_multiprocessing=False))
    mix = csr_matrix((np.array(weights, np.float32), indices, indptr), shape=(len(texts), len(vocabulary)))
    return _normalise(np.asarray(mix @ word_vectors))


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
) -> list[int]:
    """A cluster label 0..k-1 for every row (no noise label), numbered by first appearance."""
    report = progress or (lambda fraction, message: None)
    if len(vectors) == 0:
        return []
    vectors = _normalise(np.asarray(vectors, dtype=np.float32))
    threshold = distance_threshold(tightness)
    max_size = max(1, int(max_cluster_size))
    labels = np.full(len(vectors), -1, dtype=np.int64)
    live = np.flatnonzero(np.linalg.norm(vectors, axis=1) > 0)

    if len(live) > PARTITION_SIZE:
        report(0.0, f"Getting ready to group {len(live):,} keywords…")
        import sklearn.cluster  # noqa: F401  (a cold import takes seconds; say so before the work starts)

        report(0.02, f"Dividing {len(live):,} keywords into parts of related ones…")
    partitions = _partition(vectors, live, PARTITION_SIZE)
    next_label = 0
    for done, members in enumerate(partitions, start=1):
        sub = _average_linkage(vectors[members], threshold)
        labels[members] = sub + next_label
        next_label += int(sub.max()) + 1
        report(0.05 + 0.75 * done / len(partitions), f"Grouped part {done} of {len(partitions)}…")
    if len(partitions) > 1:
        report(0.85, "Joining close groups across parts…")
        labels[live] = _merge_groups(vectors[live], labels[live], threshold)
    report(0.95, "Splitting very large clusters…")
    labels = _split_oversized(vectors, labels, max_size)

    # Texts without any words cannot be placed by meaning; they share their own cluster(s).
    empty = np.flatnonzero(labels < 0)
    for chunk in np.array_split(empty, math.ceil(len(empty) / max_size)) if len(empty) else []:
        labels[chunk] = labels.max() + 1
    return _by_first_appearance(labels)


def _average_linkage(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Exact UPGMA on cosine distance, cut at threshold; labels from 0."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=np.int64)
    tree = linkage(np.maximum(pdist(vectors, "cosine"), 0.0), method="average")
    return fcluster(tree, t=threshold, criterion="distance").astype(np.int64) - 1


def _kmeans(vectors: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import MiniBatchKMeans
    from threadpoolctl import threadpool_limits

    model = MiniBatchKMeans(n_clusters=k, random_state=SEED, n_init=3, batch_size=4096)
    # One thread: OpenMP threads spinning against other workers' jobs made this 8x slower on a busy
    # 2-core host (5 s instead of 0.6 s for 4,000 keywords); workers scale by process, not by thread.
    with threadpool_limits(limits=1):
        return model.fit_predict(vectors)


def _partition(vectors: np.ndarray, members: np.ndarray, size: int) -> list[np.ndarray]:
    """Split row indices into k-means groups of at most `size` rows (half that on average)."""
    if len(members) <= size:
        return [members] if len(members) else []
    assigned = _kmeans(vectors[members], math.ceil(2 * len(members) / size))
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


def _upgma_groups(sums: np.ndarray, counts: np.ndarray, threshold: float) -> np.ndarray:
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


def _split_oversized(vectors: np.ndarray, labels: np.ndarray, max_size: int) -> np.ndarray:
    """Split every cluster above max_size along its own dendrogram so no cluster is a catch-all."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

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
                tree = linkage(np.maximum(pdist(vectors[group], "cosine"), 0.0), method="average")
                sub = fcluster(tree, t=k, criterion="maxclust") - 1
            else:
                sub = _kmeans(vectors[group], k)
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
    )
    report(1.0, f"{len(set(labels))} clusters")
    return labels
