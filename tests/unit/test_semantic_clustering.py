"""Offline semantic keyword clustering: quality on the labelled sample, tightness, limits, no network."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from app.services.planner import facets, phrases, semantic

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
LABELLED = FIXTURES / "keywords_labeled_2k.csv"
# Floors per labelled sample at the default tightness, a little under what was measured (in brackets).
# The target is ARI >= 0.80 and purity >= 0.88 on every sample: met on all ten since the head/facet
# links (facets.head_context) and the split's typical topic. holdout5 was the held-out check of that round
# (written first, scored once after the design was fixed); seen now, so its floor guards it like the others.
FLOORS = {  # sample: (ARI floor, purity floor)
    "keywords_labeled_2k.csv": (0.90, 0.95),        # (0.919, 0.970) coffee, fitness, garden, dogs
    "keywords_labeled_business.csv": (0.92, 0.95),  # (0.948, 0.974) finance, software, travel, skincare
    "keywords_labeled_home.csv": (0.94, 0.95),      # (0.958, 0.970) home, cars, education, weddings
    "keywords_labeled_care.csv": (0.95, 0.97),      # (0.975, 0.988) pets and vets, health, cooking, fashion
    "keywords_labeled_work.csv": (0.90, 0.95),      # (0.920, 0.974) HR and IT software, marketing, gaming, outdoors
    "keywords_labeled_legal.csv": (0.92, 0.95),     # (0.935, 0.967) legal, real estate, baby, photography
    "keywords_labeled_holdout2.csv": (0.93, 0.96),  # (0.949, 0.978) insurance, music, jewellery, farming
    "keywords_labeled_holdout3.csv": (0.85, 0.92),  # (0.858, 0.933) cycling, crafts, hotels, energy
    "keywords_labeled_holdout4.csv": (0.92, 0.96),  # (0.948, 0.983) plumbing, languages, games, astronomy
    "keywords_labeled_holdout5.csv": (0.89, 0.94),  # (0.916, 0.962) drinks, software dev, hair care, moving
}
ARI_FLOOR, PURITY_FLOOR = FLOORS[LABELLED.name]


def purity(labels: list[int], truth: list[str]) -> float:
    by_cluster: dict[int, Counter] = defaultdict(Counter)
    for label, topic in zip(labels, truth):
        by_cluster[label][topic] += 1
    return sum(c.most_common(1)[0][1] for c in by_cluster.values()) / len(labels)


@pytest.fixture(scope="module")
def sample() -> tuple[list[str], list[str], np.ndarray]:
    # Keyword texts, topics, vectors.
    with LABELLED.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = [row["Keyword"] for row in rows]
    return texts, [row["topic"] for row in rows], semantic.embed(texts)


def test_embed_returns_normalised_float32_rows(sample):
    texts, _, vectors = sample
    assert vectors.dtype == np.float32
    assert vectors.shape[0] == len(texts)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_labelled_sample_clusters_by_topic_above_quality_floor(sample):
    texts, truth, vectors = sample
    labels = semantic.cluster(vectors, texts=texts)
    assert adjusted_rand_score(truth, labels) >= ARI_FLOOR
    assert purity(labels, truth) >= PURITY_FLOOR


@pytest.mark.parametrize("name", sorted(set(FLOORS) - {LABELLED.name}))
def test_samples_from_other_industries_cluster_by_topic_above_their_floors(name):
    with (FIXTURES / name).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    truth, texts = [row["topic"] for row in rows], [row["Keyword"] for row in rows]
    labels = semantic.cluster(semantic.embed(texts), texts=texts)
    ari_floor, purity_floor = FLOORS[name]
    assert adjusted_rand_score(truth, labels) >= ari_floor
    assert purity(labels, truth) >= purity_floor


@pytest.mark.parametrize(("tightness", "head_min_count"), [(0.4, 2), (0.45, 2), (0.6, 2), (0.5, 3)])
def test_a_small_move_of_tightness_or_of_the_head_rule_does_not_collapse_a_sample(tightness, head_min_count,
                                                                                  monkeypatch):
    # holdout4 used to fall to its four industries (ARI ~0.61) at tightness 0.4-0.45 or with heads needing
    # three keywords: the cut joined whole industries and the sibling split measured topics on that cut.
    monkeypatch.setattr(facets, "HEAD_MIN_COUNT", head_min_count)
    with (FIXTURES / "keywords_labeled_holdout4.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    truth, texts = [row["topic"] for row in rows], [row["Keyword"] for row in rows]
    labels = semantic.cluster(semantic.embed(texts), tightness=tightness, texts=texts)
    assert adjusted_rand_score(truth, labels) >= 0.90  # (0.953, 0.946, 0.928, 0.946)
    assert purity(labels, truth) >= 0.95  # (0.981, 0.981, 0.983, 0.985)


def test_modifier_shared_across_topics_does_not_make_its_own_cluster():
    topics = {"payroll software": ["payroll software", "payroll service", "run payroll", "payroll app"],
              "crm": ["crm software", "crm", "customer relationship management", "crm system"],
              "accounting": ["accounting software", "bookkeeping software", "bookkeeping", "accounting app"],
              "website builder": ["website builder", "site builder", "website maker", "build a website"]}
    tails = ["for small business", "small business", "near me", "2026", "in texas", "for beginners",
             "reviews", "cost", "uk", "best", "guide", "vs"]
    texts, truth = [], []
    for topic, heads in topics.items():
        for head in heads:
            for tail in tails:
                texts.append(f"{head} {tail}")
                truth.append(topic)
    labels = semantic.cluster_keywords(texts)
    small_business = {labels[i] for i, text in enumerate(texts) if "small business" in text}
    assert len(small_business) >= len(topics)  # not one "small business" bucket across topics
    topics_per_cluster: dict[int, set[str]] = defaultdict(set)
    for label, topic in zip(labels, truth):
        topics_per_cluster[label].add(topic)
    assert max(len(found) for found in topics_per_cluster.values()) <= 2


def test_partitioned_path_keeps_quality_when_input_exceeds_partition_size(sample, monkeypatch):
    texts, truth, vectors = sample
    monkeypatch.setattr(semantic, "PARTITION_SIZE", 700)  # 2,000 rows -> k-means partitions + merge
    labels = semantic.cluster(vectors, texts=texts)
    assert adjusted_rand_score(truth, labels) >= 0.87  # (0.875; 0.919 unpartitioned)
    assert purity(labels, truth) >= 0.92  # (0.937; 0.970 unpartitioned)


def test_synonyms_and_variants_share_a_cluster_but_unrelated_topics_do_not():
    keywords = ["french press", "cafetiere", "best cafetiere", "french press coffee maker", "cafetiere for two",
                "coffee grinder", "coffee mill", "burr coffee grinder", "manual coffee mill",
                "dog bed", "orthopedic dog bed", "calming dog bed", "lawn mower", "cordless lawn mower"]
    label = dict(zip(keywords, semantic.cluster_keywords(keywords)))
    assert label["french press"] == label["cafetiere"] == label["best cafetiere"]
    assert label["coffee grinder"] == label["coffee mill"]
    assert label["dog bed"] not in {label["french press"], label["coffee grinder"]}
    assert label["lawn mower"] != label["dog bed"]


def test_sibling_topics_merged_by_the_loose_default_are_split_again_by_their_words():
    # "wedding venues" and "wedding photographer" sit close enough to merge at the default cut (which
    # must stay loose to join synonyms); the two halves use different topic words, so they part.
    with (FIXTURES / "keywords_labeled_home.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts, truth = [row["Keyword"] for row in rows], [row["topic"] for row in rows]
    vectors = semantic.embed(texts)

    def main_cluster(labels, topic):
        return Counter(label for label, t in zip(labels, truth) if t == topic).most_common(1)[0][0]

    labels = semantic.cluster(vectors, texts=texts)
    assert main_cluster(labels, "wedding venues") != main_cluster(labels, "wedding photographer")
    assert semantic.cluster_keywords(texts) == labels


def test_synonym_heads_sharing_facets_stay_together():
    with (FIXTURES / "keywords_labeled_work.csv").open(newline="") as handle:
        texts = [row["Keyword"] for row in csv.DictReader(handle)]
    labels = semantic.cluster_keywords(texts)

    def main_cluster(phrase):
        return Counter(label for label, text in zip(labels, texts) if phrase in text).most_common(1)[0][0]

    assert main_cluster("password manager") == main_cluster("credential manager")
    assert main_cluster("password manager") != main_cluster("vpn")


def test_two_sibling_heads_taking_the_same_facets_are_not_linked_as_synonyms():
    # A small selection of two products with the same twenty facets: a facet every head of the selection
    # takes says what the selection is about, not that the heads mean the same.
    facets = ["", "best", "how to make", "cheap", "guide", "for beginners", "recipe", "vs drip", "at home", "tips",
              "machine", "ratio", "temperature", "beans", "history", "benefits", "mistakes", "tools", "review",
              "near me"]
    texts = [f"{facet} {head}".strip() for head in ("espresso", "french press") for facet in facets]
    labels = semantic.cluster_keywords(texts)
    espresso, french_press = Counter(labels[:20]).most_common(1)[0], Counter(labels[20:]).most_common(1)[0]
    assert espresso[0] != french_press[0] and min(espresso[1], french_press[1]) >= 18


def test_texts_must_match_the_rows():
    with pytest.raises(ValueError):
        semantic.cluster(semantic.embed(["yoga mat", "dog bed"]), texts=["yoga mat"])


def test_no_cluster_exceeds_max_cluster_size_even_when_loose(sample):
    _, _, vectors = sample
    assert max(Counter(semantic.cluster(vectors, tightness=0.0)).values()) <= 200
    assert max(Counter(semantic.cluster(vectors, max_cluster_size=40)).values()) <= 40


def test_labels_are_contiguous_one_per_row_including_empty_text():
    labels = semantic.cluster_keywords(["yoga mat", "", "thick yoga mat", "!!!", "dog bed"])
    assert len(labels) == 5
    assert sorted(set(labels)) == list(range(len(set(labels))))
    assert labels[1] == labels[3] != labels[0]


def test_higher_tightness_gives_more_clusters(sample):
    _, _, vectors = sample
    counts = [len(set(semantic.cluster(vectors, tightness=t))) for t in (0.2, 0.5, 0.8, 1.0)]
    assert counts == sorted(counts) and len(set(counts)) == 4


def test_assign_to_existing_picks_the_close_cluster_and_refuses_far_keywords(sample):
    texts, _, vectors = sample
    labels = semantic.cluster(vectors)
    centres = semantic.centroids(vectors, labels)
    assert centres.shape == (max(labels) + 1, vectors.shape[1])
    new = semantic.embed(["french press coffee maker deals", "mortgage calculator", "python tutorial"])
    assigned = semantic.assign_to_existing(new, centres, tightness=semantic.DEFAULT_TIGHTNESS)
    assert assigned[0] == labels[texts.index("best french press")]
    assert assigned[1:] == [None, None]


def test_clustering_is_deterministic_across_runs(sample, monkeypatch):
    texts, _, vectors = sample
    # Word weights are learned from the selection, so the same selection must give the same vectors.
    np.testing.assert_array_equal(semantic.embed(texts), vectors)
    monkeypatch.setattr(semantic, "PARTITION_SIZE", 300)
    assert semantic.cluster(vectors) == semantic.cluster(vectors.copy())


def test_cluster_keywords_reports_progress_up_to_done():
    seen: list[float] = []
    semantic.cluster_keywords(["yoga mat", "dog bed"], progress=lambda fraction, message: seen.append(fraction))
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_embed_loads_and_runs_with_network_disabled():
    script = textwrap.dedent("""
        import socket
        attempts = []

        class NoNetwork(socket.socket):
            def __init__(self, family=socket.AF_INET, *args, **kwargs):
                if family in (socket.AF_INET, socket.AF_INET6):
                    attempts.append(family)
                    raise OSError("network disabled in this test")
                super().__init__(family, *args, **kwargs)

        def no_dns(*args, **kwargs):
            attempts.append(args)
            raise OSError("network disabled in this test")

        socket.socket = NoNetwork
        socket.getaddrinfo = no_dns
        from app.services.planner import facets, phrases, semantic
        vectors = semantic.embed(["french press", "cafetiere"])
        assert abs(float(vectors[0] @ vectors[1]) - 1.0) < 1e-5
        print("ok" if not attempts else f"network attempted: {attempts}")
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_missing_model_raises_error_naming_the_build_script(monkeypatch, tmp_path):
    monkeypatch.setattr(semantic, "MODEL_DIR", tmp_path)
    monkeypatch.setattr(semantic, "_model", None)
    with pytest.raises(RuntimeError, match="build_embedding_model.py"):
        semantic.embed(["french press"])


def test_missing_phrase_model_raises_error_naming_its_build_script(monkeypatch, tmp_path):
    monkeypatch.setattr(phrases, "PHRASE_DIR", tmp_path)
    monkeypatch.setattr(phrases, "_phrase_model", None)
    with pytest.raises(RuntimeError, match="build_phrase_model.py"):
        semantic.embed(["french press"])


def test_synonym_phrases_sharing_no_word_share_a_cluster():
    # A mean of word vectors splits these (issue 10); the phrase encoder reads each as a phrase.
    pairs = [("airfare", "cheap flights"), ("rainy day fund", "emergency fund"), ("eye bags", "under eye cream"),
             ("invoice generator", "invoicing software")]
    keywords = [k for pair in pairs for k in pair] + ["dog bed", "lawn mower"]
    label = dict(zip(keywords, semantic.cluster_keywords(keywords)))
    for a, b in pairs:
        assert label[a] == label[b], (a, b)
    assert len({label[a] for a, _ in pairs} | {label["dog bed"], label["lawn mower"]}) == len(pairs) + 2
