from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.blueprints.settings.forms import MultiCheckboxField
from app.params import choice_id
from app.services.accounts.sites import TIMEZONES


class SiteForm(FlaskForm):
    name = StringField("Site name", validators=[DataRequired(message="Give the site a name."), Length(max=120)])
    url = StringField("Address", validators=[DataRequired(message="Enter the site's address, like https://example.com.")],
                      render_kw={"placeholder": "https://example.com", "inputmode": "url"})
    industry_id = SelectField("Industry", coerce=choice_id, choices=[], validate_choice=False)
    timezone = SelectField("Timezone", choices=[(tz, tz) for tz in TIMEZONES], default="UTC",
                           validate_choice=False)


class NewSiteForm(SiteForm):
    sector_template_ids = MultiCheckboxField("Sectors from the industry", coerce=choice_id, choices=[])
    sector_names = StringField("Other sectors (comma-separated)", validators=[Length(max=600)])


class SectorForm(FlaskForm):
    name = StringField("Sector name", validators=[Length(max=120)])
    template_id = SelectField("From the industry", coerce=choice_id, choices=[], validate_choice=False)


class DeleteSiteForm(FlaskForm):
    confirm_name = StringField("Type the site name to confirm")


class SiteDefaultsForm(FlaskForm):
    """The site's default author profile and strategy (0 = none)."""

    author_profile_id = SelectField("Default author profile", coerce=choice_id, choices=[], validate_choice=False)
    strategy_id = SelectField("Default strategy", coerce=choice_id, choices=[], validate_choice=False)


class WordPressConnectionForm(FlaskForm):
    """The site's WordPress address, user name and application password (never shown back)."""

    wp_url = StringField("WordPress address", validators=[Length(max=500)],
                         render_kw={"placeholder": "https://example.com", "inputmode": "url"})
    username = StringField("WordPress user name", validators=[Length(max=200)], render_kw={"autocomplete": "off"})
    app_password = PasswordField("Application password", validators=[Length(max=200)],
                                 render_kw={"autocomplete": "new-password",
                                            "placeholder": "xxxx xxxx xxxx xxxx xxxx xxxx"})
