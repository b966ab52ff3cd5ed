from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(message="Enter your e-mail.")])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password.")])
    remember = BooleanField("Keep me signed in on this device")


class SignupForm(FlaskForm):
    account_name = StringField("Company or agency", validators=[DataRequired(message="Give your company or agency a name."), Length(max=120)])
    name = StringField("Your name", validators=[DataRequired(message="Tell us your name."), Length(max=120)])
    email = EmailField("Work e-mail", validators=[DataRequired(message="Enter your e-mail.")])
    password = PasswordField("Password", validators=[DataRequired(message="Choose a password.")])


class ForgotForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(message="Enter your e-mail.")])


class ResetForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(message="Choose a new password.")])


class AcceptInviteForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(message="Tell us your name."), Length(max=120)])
    password = PasswordField("Password", validators=[DataRequired(message="Choose a password.")])
