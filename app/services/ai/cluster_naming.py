"""Cluster naming: for groups of keywords, a name, a one-line description and a search intent each."""

from __future__ import annotations

from app.errors import ValidationError
from app.models import Job
from app.services.ai import prompts
from app.services.ai.framework import AIFunction, register_function
from app.services.ai.output import OutputError, clean_text
from app.services.ai.providers import DEMO_LABEL

INTENTS = ("informational", "commercial", "transactional", "navigational")
MAX_GROUPS = 50
MAX_KEYWORDS_PER_GROUP = 100
MAX_KEYWORD_CHARS = 100
GROUPS_PER_CALL = 10

SCHEMA = {
    "type": "object",
    "required": ["clusters"],
    "properties": {"clusters": {"type": "array", "minItems": 1, "items": {
        "type": "object",
        "required": ["group", "name", "description", "intent"],
        "properties": {
            "group": {"type": "integer"},
            "name": {"type": "string", "minLength": 1, "maxLength": 120},
            "description": {"type": "string", "minLength": 1, "maxLength": 400},
            "intent": {"type": "string", "enum": list(INTENTS)},
        },
    }}},
}

_TRANSACTIONAL = {"buy", "order", "cheap", "price", "prices", "deal", "deals", "discount", "coupon", "shop"}
_COMMERCIAL = {"best", "top", "review", "reviews", "vs", "compare", "comparison", "alternative", "alternatives"}
_INFORMATIONAL = {"how", "what", "why", "when", "guide", "tutorial", "tips", "ideas", "recipe", "meaning"}


def parse_groups(text: str) -> list[list[str]]:
    """One group per line, keywords separated by commas; blank lines and duplicates dropped."""
    groups = []
    for line in (text or "").splitlines():
        seen, group = set(), []
        for keyword in line.split(","):
            keyword = " ".join(keyword.split())
            if keyword and keyword.lower() not in seen:
                seen.add(keyword.lower())
                group.append(keyword)
        if group:
            groups.append(group)
    return groups


def _guess_intent(keywords: list[str]) -> str:
    words = {w for k in keywords for w in k.lower().split()}
    if words & _TRANSACTIONAL:
        return "transactional"
    if words & _COMMERCIAL:
        return "commercial"
    if words & _INFORMATIONAL:
        return "informational"
    return "informational"


@register_function
class ClusterNaming(AIFunction):
    name = "cluster_naming"
    title = "Cluster naming"
    operation = "cluster_naming"
    module = "thinker"
    schema = SCHEMA
    max_input_chars = 20_000
    batch_key = "groups"  # named GROUPS_PER_CALL at a time; each call numbers its groups from 1
    items_per_call = GROUPS_PER_CALL

    def validate(self, payload: dict) -> None:
        groups = payload.get("groups")
        if not isinstance(groups, list) or not groups:
            raise ValidationError("Give at least one group of keywords (one group per line).", field="groups")
        if len(groups) > MAX_GROUPS:
            raise ValidationError(f"At most {MAX_GROUPS} groups can be named in one run; you gave "
                                  f"{len(groups)}. Nothing was charged.", field="groups")
        for number, group in enumerate(groups, start=1):
            if not isinstance(group, list) or not group or not all(isinstance(k, str) and k.strip() for k in group):
                raise ValidationError(f"Group {number} has no keywords.", field="groups")
            if len(group) > MAX_KEYWORDS_PER_GROUP:
                raise ValidationError(f"Group {number} has {len(group)} keywords; the limit is "
                                      f"{MAX_KEYWORDS_PER_GROUP}. Nothing was charged.", field="groups")
            too_long = next((k for k in group if len(k) > MAX_KEYWORD_CHARS), None)
            if too_long:
                raise ValidationError(f"A keyword in group {number} is longer than {MAX_KEYWORD_CHARS} "
                                      f"characters: “{too_long[:40]}…”.", field="groups")

    def build_prompt(self, context: dict) -> list[dict]:
        lines = [f"{n}. {', '.join(group)}" for n, group in enumerate(context["groups"], start=1)]
        # The instructions are the account's template (Thinker → Prompts); the keywords stay in their own
        # message, as data.
        system = prompts.render(self.name, {"group_count": len(context["groups"]), "intents": ", ".join(INTENTS),
                                            "language": context.get("language") or "English"})
        return [{"role": "system", "content": system},
                {"role": "user", "content": "Keyword groups:\n" + "\n".join(lines)}]

    def expected_output_tokens(self, context: dict) -> int:
        return 80 * len(context["groups"]) + 20

    def demo_answer(self, context: dict) -> dict:
        clusters = []
        for number, group in enumerate(context["groups"], start=1):
            clusters.append({
                "group": number, "name": f"Demo: {group[0].title()}",
                "description": f"{DEMO_LABEL}. A placeholder for {len(group)} keyword(s) around “{group[0]}”.",
                "intent": _guess_intent(group)})
        return {"clusters": clusters}

    def check(self, data: dict, context: dict) -> None:
        expected = set(range(1, len(context["groups"]) + 1))
        numbers = [c["group"] for c in data["clusters"]]
        if sorted(numbers) != sorted(expected):
            raise OutputError(f"$.clusters must have exactly one entry for each group 1–{len(expected)} "
                              f"(got groups {', '.join(map(str, numbers)) or 'none'}).")
        for index, cluster in enumerate(data["clusters"]):
            if not clean_text(cluster["name"]) or not clean_text(cluster["description"]):
                raise OutputError(f"$.clusters[{index}] has a name or description that is empty without markup.")

    def save_items(self, data: dict, context: dict, job: Job) -> list[dict]:
        by_group = {c["group"]: c for c in data["clusters"]}
        clusters = []
        for number, group in enumerate(context["groups"], start=1):
            answer = by_group[number]
            name, description = clean_text(answer["name"]), clean_text(answer["description"])
            clusters.append({"group": context.get("batch_start", 0) + number, "keywords": group,
                             "name": name[:120], "description": description[:400], "intent": answer["intent"]})
        return clusters

    def summarize(self, items: list[dict], context: dict) -> dict:
        clusters = [item["result"] for item in items if item["ok"]]
        failed = len(items) - len(clusters)
        summary = f"Named {len(clusters)} cluster(s)."
        if failed:
            summary = f"Named {len(clusters)} of {len(items)} clusters; {failed} could not be named (not charged)."
        return {"clusters": clusters, "summary": summary}
