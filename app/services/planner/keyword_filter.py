"""What the keyword table shows: the filter read from the query string, and its sort order."""

from __future__ import annotations

from dataclasses import dataclass, replace

from app import params
from app.models import Cluster, Keyword
from app.models.planner import INTENTS, KEYWORD_STATUSES, keyword_search
from app.services.planner import parsing

PER_PAGE_CHOICES = (25, 50, 100, 200)
# column -> (expression, its natural direction). In the natural direction blanks come last; the other
# direction is the exact reverse of the list. Each natural order but intent's, status's and cluster's matches
# an index (difficulty and CPC: ENTRY_SORTS).
SORTS = {
    "keyword": (Keyword.normalized, "asc"),
    "volume": (Keyword.volume, "desc"),
    "difficulty": (Keyword.difficulty, "asc"),
    "cpc": (Keyword.cpc, "desc"),
    "intent": (Keyword.intent, "asc"),
    "status": (Keyword.status, "asc"),
    "cluster": (Cluster.name, "asc"),
    "created": (Keyword.id, "desc"),  # ids are handed out in the order keywords are added
}


# With a search, the matching rows come from the trigram index and are then sorted; a sort column the
# planner could read in index order instead ("walk the keyword index backwards until 50 rows contain
# 'grinder burr'") is a bet on its match estimate that costs 100+ ms when the matches are rare. The same
# values in an expression (text || '', number + 0) sort the same but are not read from an index. Searches
# shorter than a trigram cannot use that index and keep the plain sort.
_SEARCH_SORTS = {"keyword": Keyword.normalized.op("||")(""), "volume": Keyword.volume + 0,
                 "difficulty": Keyword.difficulty + 0, "created": Keyword.id + 0}


# Sorts that read an index of the search entries (keyword_search: a copy of each keyword's value kept by
# triggers), joined to keywords by id: an index on keywords itself would cost every imported row.
ENTRY_SORTS = {"difficulty": keyword_search.c.difficulty, "cpc": keyword_search.c.cpc}


def is_trigram_search(flt: "KeywordFilter") -> bool:
    return len(parsing.normalize_keyword(flt.q)) >= 3


def order_by(flt: "KeywordFilter", *, entries: bool = False) -> tuple:
    """ORDER BY of the keyword table for this filter (ties broken by id, blanks last in the natural direction).

    ``entries``: the same order read from the joined search entries (ENTRY_SORTS; the caller joins them)."""
    column, natural = SORTS[flt.sort]
    tie = Keyword.id
    if entries:
        column, tie = ENTRY_SORTS[flt.sort], keyword_search.c.keyword_id
    elif flt.sort in _SEARCH_SORTS and is_trigram_search(flt):
        column = _SEARCH_SORTS[flt.sort]
    if flt.direction == natural:
        if natural == "desc":
            return column.desc().nulls_last(), tie.desc()
        return column.asc().nulls_last(), tie.asc()
    if natural == "desc":
        return column.asc().nulls_first(), tie.asc()
    return column.desc().nulls_first(), tie.desc()


@dataclass
class KeywordFilter:
    """What the keyword table shows; built from the query string and reused for "all N matching"."""

    q: str = ""
    status: str = "active"  # active | archived | all
    intent: str = ""  # an intent, "none" for unset, "" for any
    volume_min: int | None = None
    volume_max: int | None = None
    difficulty_min: int | None = None
    difficulty_max: int | None = None
    cluster_id: int | None = None
    unclustered: bool = False
    sort: str = "volume"
    direction: str = "desc"
    page: int = 1
    per_page: int = 50

    @classmethod
    def from_args(cls, args) -> "KeywordFilter":
        """Read the filter from request args; nonsense values fall back to defaults, never error."""
        def number(name, low=0, high=params.MAX_NUMBER):
            return params.clamped_arg(args, name, None, low=low, high=high)

        status = args.get("status", "active")
        sort = args.get("sort", "volume")
        per_page = number("per_page", 1) or 50
        cluster = params.parse_id(args.get("cluster"))
        return cls(
            q=" ".join((args.get("q") or "").split())[:200],
            status=status if status in (*KEYWORD_STATUSES, "all") else "active",
            intent=args.get("intent", "") if args.get("intent", "") in (*INTENTS, "none") else "",
            volume_min=number("volume_min"), volume_max=number("volume_max"),
            difficulty_min=number("difficulty_min", 0, 100), difficulty_max=number("difficulty_max", 0, 100),
            cluster_id=cluster, unclustered=args.get("unclustered") in ("1", "on", "true", "yes"),
            sort=sort if sort in SORTS else "volume",
            direction="asc" if args.get("direction") == "asc" else "desc",
            page=number("page", 1) or 1,
            per_page=per_page if per_page in PER_PAGE_CHOICES else 50,
        )

    def args(self, **changes) -> dict:
        """The query-string form of this filter (defaults left out), with changes applied."""
        current = replace(self, **changes)
        defaults = KeywordFilter()
        out = {}
        for name, key in (("q", "q"), ("status", "status"), ("intent", "intent"), ("volume_min", "volume_min"),
                          ("volume_max", "volume_max"), ("difficulty_min", "difficulty_min"),
                          ("difficulty_max", "difficulty_max"), ("cluster_id", "cluster"), ("sort", "sort"),
                          ("direction", "direction"), ("page", "page"), ("per_page", "per_page")):
            value = getattr(current, name)
            if value not in (None, "") and value != getattr(defaults, name):
                out[key] = value
        if current.unclustered:
            out["unclustered"] = 1
        return out

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or self.intent or self.status != "active" or self.unclustered or self.cluster_id
                    or any(v is not None for v in (self.volume_min, self.volume_max,
                                                   self.difficulty_min, self.difficulty_max)))
