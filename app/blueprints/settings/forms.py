from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.models.accounts import ROLE_LABELS
from app.params import choice_id


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        # Choices are checked by the service (404 for a site the person cannot see).
        pass


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="Your name cannot be empty."), Length(max=120)])


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(message="Enter your current password.")])
    new_password = PasswordField("New password", validators=[DataRequired(message="Choose a new password.")])


class InviteForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(message="Enter the person's e-mail.")])
    role = SelectField("Role", choices=list(ROLE_LABELS.items()), default="editor",
                       render_kw={"data-role-select": ""})
    site_ids = MultiCheckboxField("Sites they may work on", coerce=choice_id, choices=[])



class SitesForm(FlaskForm):
    site_ids = MultiCheckboxField("Sites", coerce=choice_id, choices=[])


class ModulesForm(FlaskForm):
    modules = MultiCheckboxField("Modules", choices=[])
