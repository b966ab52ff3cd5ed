"""Forms of the Thinker pages (the services validate the values and name the field at fault)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.services.ai.prompts import MAX_TEMPLATE_CHARS, POINTS_OF_VIEW, READING_LEVELS
from app.services.ai import settings as ai_settings
from app.services.ai.settings import IMAGE_SIZES, IMAGE_STYLES


class PromptForm(FlaskForm):
    body = TextAreaField("Prompt template", validators=[Length(max=MAX_TEMPLATE_CHARS + 1000)],
                         render_kw={"rows": 16, "spellcheck": "false"})


class ProfileForm(FlaskForm):
    name = StringField("Name", render_kw={"maxlength": 120})
    tone = StringField("Tone", render_kw={"placeholder": "warm, practical, confident", "maxlength": 200})
    audience = StringField("Audience", render_kw={"placeholder": "home baristas who want better coffee",
                                                  "maxlength": 300})
    point_of_view = SelectField("Point of view", choices=[(k, v[0].upper() + v[1:]) for k, v in POINTS_OF_VIEW.items()],
                                default="second", validate_choice=False)
    language = StringField("Language", default="English", render_kw={"maxlength": 60})
    reading_level = SelectField("Reading level", choices=[("", "No preference")]
                                + [(k, v[0].upper() + v[1:]) for k, v in READING_LEVELS.items()],
                                default="", validate_choice=False)
    banned_phrases = TextAreaField("Banned phrases", render_kw={"rows": 4})
    sample_paragraph = TextAreaField("Sample paragraph", render_kw={"rows": 5})

    FIELDS = ("tone", "audience", "point_of_view", "language", "reading_level", "banned_phrases", "sample_paragraph")


class StrategyForm(FlaskForm):
    name = StringField("Name", render_kw={"maxlength": 120})
    goals = TextAreaField("Goals", render_kw={"rows": 3})
    guidelines = TextAreaField("Guidelines", render_kw={"rows": 6})
    target_words = StringField("Target length (words)", default="1500", render_kw={"inputmode": "numeric"})
    add_faq = BooleanField("End articles with an FAQ section", default=True)
    add_tables = BooleanField("Use tables where they help")

    FIELDS = ("goals", "guidelines", "target_words", "add_faq", "add_tables")


class AISettingsForm(FlaskForm):
    """One form for every level; an empty field means "use the default" of the level below."""

    temperature = StringField("Temperature", render_kw={"inputmode": "decimal"})
    max_output_tokens = StringField("Longest answer (tokens)", render_kw={"inputmode": "numeric"})
    image_style = SelectField("Image style", choices=[("", "Use the default")] + list(IMAGE_STYLES.items()),
                              validate_choice=False)
    image_size = SelectField("Image size", choices=[("", "Use the default")] + list(IMAGE_SIZES.items()),
                             validate_choice=False)
    image_count = StringField("Images in each article", render_kw={"inputmode": "numeric"})

    KEYS = ("temperature", "max_output_tokens", "image_style", "image_size", "image_count")

    def values(self) -> dict:
        return {key: getattr(self, key).data for key in self.KEYS}

    def fill(self, stored: dict) -> None:
        for key in self.KEYS:
            value = stored.get(key)
            getattr(self, key).data = "" if value is None else str(value)


def settings_table(site=None, *, level: str) -> dict:
    """What the settings form shows: each key's value in effect, where from, and what the level inherits."""
    return {"effective": ai_settings.resolve(site), "inherited": ai_settings.inherited(site, below=level),
            "labels": ai_settings.LABELS, "level_labels": ai_settings.LEVEL_LABELS,
            "styles": ai_settings.IMAGE_STYLES, "sizes": ai_settings.IMAGE_SIZES, "keys": ai_settings.KEYS}
