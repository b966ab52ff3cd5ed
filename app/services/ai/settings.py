"""AI settings (temperature, answer length, images) resolved site → account → platform → built-in.

Each level stores only the keys it sets; a key missing at one level falls through to the next.
Saving a key as empty ("use the default") removes it from that level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import select

from app import tenancy
from app.errors import ValidationError
from app.extensions import db
from app.models import Account, PlatformSetting, Site

PLATFORM_KEY = "ai_defaults"
LEVELS = ("site", "account", "platform", "built-in")
LEVEL_LABELS = {"site": "This site", "account": "Your account", "platform": "Platform default",
                "built-in": "Built-in"}

IMAGE_STYLES = {
    "photographic": "Photographic",
    "illustration": "Illustration",
    "flat": "Flat vector",
    "3d": "3D render",
    "watercolor": "Watercolour",
    "line_art": "Line art",
}
IMAGE_SIZES = {
    "1024x1024": "Square (1024 × 1024)",
    "1536x1024": "Landscape (1536 × 1024)",
    "1024x1536": "Portrait (1024 × 1536)",
}
TEMPERATURE_RANGE = (0.0, 2.0)
MAX_TOKENS_RANGE = (100, 32_000)
IMAGE_COUNT_RANGE = (0, 10)

BUILT_IN = {
    "temperature": 0.3,
    "max_output_tokens": 4000,
    "image_style": "photographic",
    "image_size": "1536x1024",
    "image_count": 2,
}
KEYS = tuple(BUILT_IN)
LABELS = {
    "temperature": "Temperature",
    "max_output_tokens": "Longest answer (tokens)",
    "image_style": "Image style",
    "image_size": "Image size",
    "image_count": "Images in each article",
}


@dataclass(frozen=True)
class AISettings:
    """The settings in effect, and for each key the level it came from."""

    temperature: float
    max_output_tokens: int
    image_style: str
    image_size: str
    image_count: int
    sources: dict[str, str] = field(default_factory=dict)

    def source(self, key: str) -> str:
        return self.sources.get(key, "built-in")


def _number(key: str, raw, *, kind, low, high, message: str):
    try:
        value = kind(str(raw).strip())
    except (TypeError, ValueError):
        raise ValidationError(message, field=key) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(message, field=key)
    if not low <= value <= high:
        raise ValidationError(message, field=key)
    return round(value, 2) if kind is float else value


def clean_value(key: str, raw):
    """The typed value of one setting; None means "use the default". Raises ValidationError (field = key)."""
    if raw is None or (isinstance(raw, str) and raw.strip() in ("", "default")):
        return None
    if key == "temperature":
        low, high = TEMPERATURE_RANGE
        return _number(key, raw, kind=float, low=low, high=high,
                       message=f"Temperature must be a number from {low:g} to {high:g} (lower is steadier).")
    if key == "max_output_tokens":
        low, high = MAX_TOKENS_RANGE
        return _number(key, raw, kind=int, low=low, high=high,
                       message=f"The longest answer must be a whole number of tokens from {low} to {high:,}.")
    if key == "image_count":
        low, high = IMAGE_COUNT_RANGE
        return _number(key, raw, kind=int, low=low, high=high,
                       message=f"Images in each article must be a whole number from {low} to {high}.")
    if key == "image_style":
        if raw not in IMAGE_STYLES:
            raise ValidationError(f"Choose an image style: {', '.join(IMAGE_STYLES.values())}.", field=key)
        return raw
    if key == "image_size":
        if raw not in IMAGE_SIZES:
            raise ValidationError(f"Choose an image size: {', '.join(IMAGE_SIZES)}.", field=key)
        return raw
    raise ValidationError(f"There is no AI setting called {key!r}.", field=key)


def _valid(stored: dict | None) -> dict:
    """The keys of a stored level that are still valid (values saved before a range changed are ignored)."""
    out = {}
    for key, raw in (stored or {}).items():
        if key not in BUILT_IN:
            continue
        try:
            value = clean_value(key, raw)
        except ValidationError:
            continue
        if value is not None:
            out[key] = value
    return out


def _merge(stored: dict | None, values: dict) -> dict:
    merged = dict(_valid(stored))
    for key, raw in values.items():
        value = clean_value(key, raw)
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _platform_row() -> PlatformSetting | None:
    return db.session.get(PlatformSetting, PLATFORM_KEY)


def _account() -> Account | None:
    account_id = tenancy.current_account_id()
    if account_id is None:
        return None
    return db.session.scalars(select(Account).where(Account.id == account_id)).first()


def _site(site: Site | int | None) -> Site | None:
    if site is None or isinstance(site, Site):
        return site
    return db.session.scalars(select(Site).where(Site.id == site)).first()


def levels(site: Site | int | None = None) -> dict[str, dict]:
    """The keys each level sets: {"site": {...}, "account": {...}, "platform": {...}, "built-in": {...}}."""
    site_row, account, platform = _site(site), _account(), _platform_row()
    return {
        "site": _valid(site_row.ai_settings) if site_row is not None else {},
        "account": _valid(account.ai_settings) if account is not None else {},
        "platform": _valid(platform.value) if platform is not None else {},
        "built-in": dict(BUILT_IN),
    }


def resolve(site: Site | int | None = None) -> AISettings:
    """The settings in effect for a site (or for the account when no site is given)."""
    by_level = levels(site)
    values, sources = {}, {}
    for key in KEYS:
        level = next(name for name in LEVELS if key in by_level[name])
        values[key], sources[key] = by_level[level][key], level
    return AISettings(**values, sources=sources)


def inherited(site: Site | int | None = None, *, below: str) -> AISettings:
    """What a level would get if it set nothing: the resolution of the levels under it."""
    by_level = levels(site)
    start = LEVELS.index(below) + 1
    values, sources = {}, {}
    for key in KEYS:
        level = next(name for name in LEVELS[start:] if key in by_level[name])
        values[key], sources[key] = by_level[level][key], level
    return AISettings(**values, sources=sources)


def save_platform(values: dict, user=None) -> dict:
    """Operators: set or clear platform defaults; returns what the platform level now sets."""
    from app.services import audit

    row = _platform_row()
    merged = _merge(row.value if row is not None else None, values)
    if row is None:
        row = PlatformSetting(key=PLATFORM_KEY, value=merged)
        db.session.add(row)
    row.value = merged
    audit.record("operator.ai_defaults_saved", actor_id=getattr(user, "id", None), account_id=None, values=merged)
    db.session.commit()
    return merged


def save_account(values: dict) -> dict:
    """Set or clear the bound account's AI settings; returns what the account level now sets."""
    account = _account()
    if account is None:
        raise ValidationError("No account is open.")
    merged = _merge(account.ai_settings, values)
    account.ai_settings = merged or None
    db.session.commit()
    return merged


def save_site(site_id: int, values: dict) -> dict:
    """Set or clear one site's AI settings; returns what the site level now sets."""
    from app.services.accounts.sites import get_site

    site = get_site(site_id)
    merged = _merge(site.ai_settings, values)
    site.ai_settings = merged or None
    db.session.commit()
    return merged


def generation_limits(*, function_temperature: float, model_max_tokens: int,
                      site: Site | int | None = None) -> tuple[int, float]:
    """(max_tokens, temperature) for a text request: the settings in effect, the answer length capped at what
    the model allows; where no level sets a temperature, the AI function's own applies."""
    effective = resolve(site)
    temperature = function_temperature if effective.source("temperature") == "built-in" else effective.temperature
    return min(effective.max_output_tokens, model_max_tokens), temperature
