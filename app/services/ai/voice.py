"""How author profiles and content strategies read inside a prompt (no database, no other services)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.models import AuthorProfile, ContentStrategy

POINTS_OF_VIEW = {"first": "first person (“I”, “we”)", "second": "second person (“you”)",
                  "third": "third person (“they”, “the reader”)"}
READING_LEVELS = {"easy": "easy — short sentences and everyday words", "general": "general readers",
                  "advanced": "informed readers", "expert": "specialists; technical terms are fine"}


def profile_text(profile: AuthorProfile | None) -> str:
    """How an author profile is written into a prompt."""
    if profile is None:
        return "No author profile: write in a clear, friendly and neutral voice."
    lines = [f"Author profile “{profile.name}”:"]
    if profile.tone:
        lines.append(f"- Tone: {profile.tone}")
    if profile.audience:
        lines.append(f"- Audience: {profile.audience}")
    lines.append(f"- Point of view: {POINTS_OF_VIEW.get(profile.point_of_view, profile.point_of_view)}")
    lines.append(f"- Language: {profile.language or 'English'}")
    if profile.reading_level:
        lines.append(f"- Reading level: {READING_LEVELS.get(profile.reading_level, profile.reading_level)}")
    if profile.banned_phrase_list:
        lines.append("- Never use these phrases: " + "; ".join(f"“{p}”" for p in profile.banned_phrase_list))
    if profile.sample_paragraph.strip():
        lines.append(f"- Match the voice of this sample paragraph:\n\"\"\"\n{profile.sample_paragraph.strip()}\n\"\"\"")
    return "\n".join(lines)


def strategy_text(strategy: ContentStrategy | None) -> str:
    """How a content strategy is written into a prompt."""
    if strategy is None:
        return "No content strategy: write a helpful, accurate article that answers the searcher fully."
    lines = [f"Content strategy “{strategy.name}”:"]
    if strategy.goals.strip():
        lines.append(f"- Goals: {strategy.goals.strip()}")
    if strategy.guidelines.strip():
        lines.append(f"- Guidelines:\n{strategy.guidelines.strip()}")
    lines.append(f"- Length: about {strategy.target_words:,} words")
    lines.append("- End with an FAQ section of 3–5 questions." if strategy.add_faq else "- Do not add an FAQ section.")
    if strategy.add_tables:
        lines.append("- Use a table where it helps compare options or sum up facts.")
    return "\n".join(lines)
