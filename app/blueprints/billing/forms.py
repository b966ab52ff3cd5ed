"""Forms of the billing pages."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, RadioField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp
from wtforms.validators import ValidationError as FormError

from app.billing_ops import OPERATIONS
from app.params import MAX_ID, MAX_NUMBER, parse_id

WHOLE_NUMBER = "Enter a whole number of credits, like 100."


class ThresholdForm(FlaskForm):
    threshold = IntegerField("Warn me when the balance falls below", invalid_value_message=WHOLE_NUMBER,
                             validators=[InputRequired(message=WHOLE_NUMBER),
                                         NumberRange(min=-MAX_NUMBER, max=MAX_NUMBER,
                                                     message="Enter a threshold between 0 and 1,000,000 credits.")])


EXPIRED = "This form has expired. Reload the page and try again."


class PaymentForm(FlaskForm):
    """A payment method and, for the demo card, the number; the token makes a double click harmless."""

    provider = RadioField("Payment method", choices=[], validate_choice=False,
                          validators=[InputRequired(message="Choose a payment method.")])
    card_number = StringField("Card number", validators=[Length(max=40)],
                              render_kw={"autocomplete": "cc-number", "inputmode": "numeric",
                                         "placeholder": "4242 4242 4242 4242"})
    request_token = HiddenField(validators=[
        InputRequired(message=EXPIRED), Length(min=16, max=48, message=EXPIRED),
        Regexp(r"^[A-Za-z0-9_-]+$", message=EXPIRED)])

    def __init__(self, *args, providers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.provider.choices = [(p.name, p.label) for p in providers]

    def validate_provider(self, field):
        if field.data not in {value for value, _label in field.choices}:
            raise FormError("Choose a payment method from the list.")

    def validate_card_number(self, field):
        if self.provider.data != "fake_card":  # only the demo card takes a number
            return
        number = re.sub(r"[\s-]", "", field.data or "")
        if not re.fullmatch(r"\d{12,19}", number):
            raise FormError("Enter the card number: 12 to 19 digits.")


class BuyForm(PaymentForm):
    """A package and how to pay for it."""

    package_id = IntegerField("Package", validators=[
        InputRequired(message="Choose a package."),
        NumberRange(min=1, max=MAX_ID, message="Choose a package from the list.")],
                              invalid_value_message="Choose a package from the list.")


class PlanForm(FlaskForm):
    """Switch to a plan without a price (no payment fields)."""

    plan_id = IntegerField("Plan", validators=[InputRequired(message="Choose a plan."),
                                               NumberRange(min=1, max=MAX_ID, message="Choose a plan from the list.")],
                           invalid_value_message="Choose a plan from the list.")


class PlanOrderForm(PaymentForm):
    """Order a priced plan and say how to pay for it."""

    plan_id = IntegerField("Plan", validators=[InputRequired(message="Choose a plan."),
                                               NumberRange(min=1, max=MAX_ID, message="Choose a plan from the list.")],
                           invalid_value_message="Choose a plan from the list.")


DATE_MESSAGE = "Enter the {} date as YYYY-MM-DD, for example 2025-03-31."


class UsageFilterForm(FlaskForm):
    """The usage page's filters, read from the query string."""

    class Meta:
        csrf = False

    date_from = DateField("From", validators=[Optional()], invalid_value_message=DATE_MESSAGE.format("start"))
    date_to = DateField("To", validators=[Optional()], invalid_value_message=DATE_MESSAGE.format("end"))
    operation = SelectField("Operation", choices=[("", "All operations"), *OPERATIONS.items()],
                            validators=[Optional()], validate_choice=False)
    site = SelectField("Site", choices=[], validators=[Optional()], validate_choice=False)
    model = SelectField("AI model", choices=[], validators=[Optional()], validate_choice=False)

    def validate_operation(self, field):
        if field.data not in OPERATIONS:
            raise FormError("Choose an operation from the list.")

    def validate_site(self, field):
        if field.data not in {value for value, _label in field.choices}:
            raise FormError("Choose a site from the list.")

    def site_id(self) -> int | None:
        return parse_id(self.site.data)


class EstimateForm(FlaskForm):
    """?credits=N (and an optional button label) for the estimate fragment."""

    class Meta:
        csrf = False

    credits = IntegerField("Credits", invalid_value_message="Give the estimate as a whole number of credits.",
                           validators=[InputRequired(message="Give the estimate as a whole number of credits."),
                                       NumberRange(min=0, max=10_000_000,
                                                   message="An estimate is between 0 and 10,000,000 credits.")])
    label = StringField("Button label", validators=[Optional(), Length(max=40)])
