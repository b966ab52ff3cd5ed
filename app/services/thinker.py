"""Author profiles and content strategies of the bound account, and a site's defaults among them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import AuthorProfile, ContentStrategy, Site
from app.services.ai.voice import POINTS_OF_VIEW, READING_LEVELS

TARGET_WORDS_RANGE = (300, 10_000)
MAX_BANNED_PHRASES = 100


def _text(raw, *, field: str, label: str, limit: int, required: bool = False) -> str:
    value = (raw or "").replace("\r\n", "\n").strip()
    if required and not value:
        raise ValidationError(f"Give the {label}.", field=field)
    if len(value) > limit:
        raise ValidationError(f"Keep the {label} under {limit:,} characters.", field=field)
    return value


def _name(raw, *, what: str) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise ValidationError(f"Give the {what} a name.", field="name")
    if len(name) > 120:
        raise ValidationError(f"Keep the {what} name under 120 characters.", field="name")
    return name


def _check_unique(model, name: str, *, exclude_id: int | None, what: str) -> None:
    query = select(model.id).where(func.lower(model.name) == name.lower())
    if exclude_id:
        query = query.where(model.id != exclude_id)
    if db.session.scalars(query).first() is not None:
        raise ValidationError(f"You already have {what} called “{name}”. Choose another name.", field="name")


def _commit_unique(what: str, name: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:  # two saves at once with the same name
        db.session.rollback()
        raise ValidationError(f"You already have {what} called “{name}”. Choose another name.",
                              field="name") from None


def _sites_using(column, row_id: int) -> list[str]:
    return list(db.session.scalars(select(Site.name).where(column == row_id).order_by(Site.name)))


# Author profiles

def list_profiles() -> list[AuthorProfile]:
    """The account's author profiles by name."""
    return list(db.session.scalars(select(AuthorProfile).order_by(func.lower(AuthorProfile.name))))


def get_profile(profile_id: int) -> AuthorProfile:
    """A profile of the account, or NotFound."""
    profile = db.session.scalars(select(AuthorProfile).where(AuthorProfile.id == profile_id)).first()
    if profile is None:
        raise NotFound("That author profile does not exist or you do not have access to it.")
    return profile


def _profile_values(values: dict) -> dict:
    point_of_view = values.get("point_of_view") or "second"
    if point_of_view not in POINTS_OF_VIEW:
        raise ValidationError("Choose first, second or third person.", field="point_of_view")
    reading_level = values.get("reading_level") or ""
    if reading_level and reading_level not in READING_LEVELS:
        raise ValidationError("Choose a reading level from the list.", field="reading_level")
    phrases = [p.strip() for p in (values.get("banned_phrases") or "").splitlines() if p.strip()]
    phrases = list(dict.fromkeys(phrases))
    if len(phrases) > MAX_BANNED_PHRASES:
        raise ValidationError(f"List at most {MAX_BANNED_PHRASES} banned phrases.", field="banned_phrases")
    if any(len(p) > 100 for p in phrases):
        raise ValidationError("Keep each banned phrase under 100 characters.", field="banned_phrases")
    return {
        "tone": _text(values.get("tone"), field="tone", label="tone", limit=200),
        "audience": _text(values.get("audience"), field="audience", label="audience", limit=300),
        "point_of_view": point_of_view,
        "language": _text(values.get("language"), field="language", label="language", limit=60) or "English",
        "reading_level": reading_level,
        "banned_phrases": "\n".join(phrases),
        "sample_paragraph": _text(values.get("sample_paragraph"), field="sample_paragraph",
                                  label="sample paragraph", limit=3000),
    }


def create_profile(*, name: str, **values) -> AuthorProfile:
    """Add an author profile (name unique in the account)."""
    name = _name(name, what="author profile")
    cleaned = _profile_values(values)
    _check_unique(AuthorProfile, name, exclude_id=None, what="an author profile")
    profile = AuthorProfile(name=name, **cleaned)
    db.session.add(profile)
    _commit_unique("an author profile", name)
    return profile


def update_profile(*, profile_id: int, name: str, **values) -> AuthorProfile:
    """Change an author profile."""
    profile = get_profile(profile_id)
    name = _name(name, what="author profile")
    cleaned = _profile_values(values)
    _check_unique(AuthorProfile, name, exclude_id=profile.id, what="an author profile")
    profile.name = name
    for key, value in cleaned.items():
        setattr(profile, key, value)
    _commit_unique("an author profile", name)
    return profile


def delete_profile(*, profile_id: int) -> list[str]:
    """Delete a profile; returns the names of the sites that had it as default (they now have none)."""
    profile = get_profile(profile_id)
    sites = _sites_using(Site.default_author_profile_id, profile.id)
    db.session.delete(profile)  # the database clears the sites' and tasks' references
    db.session.commit()
    return sites


# Content strategies

def list_strategies() -> list[ContentStrategy]:
    """The account's content strategies by name."""
    return list(db.session.scalars(select(ContentStrategy).order_by(func.lower(ContentStrategy.name))))


def get_strategy(strategy_id: int) -> ContentStrategy:
    """A strategy of the account, or NotFound."""
    strategy = db.session.scalars(select(ContentStrategy).where(ContentStrategy.id == strategy_id)).first()
    if strategy is None:
        raise NotFound("That content strategy does not exist or you do not have access to it.")
    return strategy


def _strategy_values(values: dict) -> dict:
    low, high = TARGET_WORDS_RANGE
    message = f"The target length must be a whole number of words from {low} to {high:,}."
    try:
        target_words = int(str(values.get("target_words", "")).strip())
    except ValueError:
        raise ValidationError(message, field="target_words") from None
    if not low <= target_words <= high:
        raise ValidationError(message, field="target_words")
    return {
        "goals": _text(values.get("goals"), field="goals", label="goals", limit=2000),
        "guidelines": _text(values.get("guidelines"), field="guidelines", label="guidelines", limit=5000),
        "target_words": target_words,
        "add_faq": bool(values.get("add_faq")),
        "add_tables": bool(values.get("add_tables")),
    }


def create_strategy(*, name: str, **values) -> ContentStrategy:
    """Add a content strategy (name unique in the account)."""
    name = _name(name, what="strategy")
    cleaned = _strategy_values(values)
    _check_unique(ContentStrategy, name, exclude_id=None, what="a strategy")
    strategy = ContentStrategy(name=name, **cleaned)
    db.session.add(strategy)
    _commit_unique("a strategy", name)
    return strategy


def update_strategy(*, strategy_id: int, name: str, **values) -> ContentStrategy:
    """Change a content strategy."""
    strategy = get_strategy(strategy_id)
    name = _name(name, what="strategy")
    cleaned = _strategy_values(values)
    _check_unique(ContentStrategy, name, exclude_id=strategy.id, what="a strategy")
    strategy.name = name
    for key, value in cleaned.items():
        setattr(strategy, key, value)
    _commit_unique("a strategy", name)
    return strategy


def delete_strategy(*, strategy_id: int) -> list[str]:
    """Delete a strategy; returns the names of the sites that had it as default (they now have none)."""
    strategy = get_strategy(strategy_id)
    sites = _sites_using(Site.default_strategy_id, strategy.id)
    db.session.delete(strategy)
    db.session.commit()
    return sites


# Site defaults

def site_defaults(site: Site | int) -> tuple[AuthorProfile | None, ContentStrategy | None]:
    """The site's default author profile and strategy (None where it has none)."""
    if not isinstance(site, Site):
        from app.services.accounts.sites import get_site

        site = get_site(site)
    profile = strategy = None
    if site.default_author_profile_id:
        profile = db.session.scalars(
            select(AuthorProfile).where(AuthorProfile.id == site.default_author_profile_id)).first()
    if site.default_strategy_id:
        strategy = db.session.scalars(
            select(ContentStrategy).where(ContentStrategy.id == site.default_strategy_id)).first()
    return profile, strategy


def set_site_defaults(*, site_id: int, author_profile_id: int | None, strategy_id: int | None) -> Site:
    """Choose the site's default author profile and strategy (None for none)."""
    from app.services.accounts.sites import get_site

    site = get_site(site_id)
    site.default_author_profile_id = get_profile(author_profile_id).id if author_profile_id else None
    site.default_strategy_id = get_strategy(strategy_id).id if strategy_id else None
    db.session.commit()
    return site
