"""Payment providers behind one interface, in a registry."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.models import Order


@dataclass
class PaymentResult:
    status: str  # "paid", "pending" or "failed"
    message: str
    reference: str | None = None


class PaymentProvider:
    """Takes an order and the buyer's payment details; says whether it is paid, pending or failed."""

    name = ""
    label = ""
    description = ""
    available_to_customers = True
    # A demo provider moves no money; it exists only where the DEMO_PAYMENTS setting is on.
    demo = False
    # Whether an order left pending is paid against an invoice e-mailed to the buyer.
    sends_invoice = False

    def validate(self, details: dict) -> None:
        """Raise ValidationError for payment details that cannot work; default: nothing to check."""

    def start(self, order: Order, details: dict) -> PaymentResult:
        raise NotImplementedError


PROVIDERS: dict[str, type[PaymentProvider]] = {}


def register(cls: type[PaymentProvider]) -> type[PaymentProvider]:
    """Class decorator adding a provider to the registry."""
    PROVIDERS[cls.name] = cls
    return cls


def enabled_providers() -> dict[str, type[PaymentProvider]]:
    """The registered providers this instance may use: demo ones only where configured."""
    from flask import current_app

    demo_on = bool(current_app.config.get("DEMO_PAYMENTS"))
    return {name: cls for name, cls in PROVIDERS.items() if demo_on or not cls.demo}


def customer_providers() -> list[PaymentProvider]:
    """The payment methods customers are offered."""
    return [cls() for cls in enabled_providers().values() if cls.available_to_customers]


def provider_for(name: str) -> PaymentProvider:
    """An instance of an enabled provider; a disabled or unknown name is a validation error."""
    cls = enabled_providers().get(name)
    if cls is None:
        from app.errors import ValidationError

        raise ValidationError("Choose a payment method from the list.", field="provider")
    return cls()


@register
class ManualInvoiceProvider(PaymentProvider):
    """Pay by bank transfer against an invoice; an operator marks the order paid."""

    name = "manual"
    label = "Invoice (bank transfer)"
    description = "We e-mail an invoice; credits arrive when the payment is confirmed."
    sends_invoice = True

    def start(self, order: Order, details: dict) -> PaymentResult:
        reference = f"INV-{order.id:06d}"
        what = "The plan starts" if order.plan_id else "Credits arrive"
        return PaymentResult("pending", f"Invoice {reference} is on its way to you by e-mail. {what} as soon as "
                                        "the payment is confirmed.", reference)


TEST_CARD_OK = "4242424242424242"
TEST_CARD_DECLINED = "4000000000000002"


@register
class FakeCardProvider(PaymentProvider):
    """A card processor for demos and tests: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 declines."""

    name = "fake_card"
    label = "Card (demo)"
    demo = True
    description = "A demo card processor: use 4242 4242 4242 4242. No real money moves."

    @staticmethod
    def _number(details: dict) -> str:
        return re.sub(r"[\s-]", "", str(details.get("card_number") or ""))

    def validate(self, details: dict) -> None:
        if not re.fullmatch(r"\d{12,19}", self._number(details)):
            from app.errors import ValidationError

            raise ValidationError("Enter a card number of 12 to 19 digits.", field="card_number")

    def start(self, order: Order, details: dict) -> PaymentResult:
        number = self._number(details)
        if number == TEST_CARD_DECLINED:
            return PaymentResult("failed", "Your card was declined. No credits were added and nothing was charged.")
        if number != TEST_CARD_OK:
            return PaymentResult("failed", "This demo processor only accepts the test card 4242 4242 4242 4242.")
        return PaymentResult("paid", "Payment received.", f"demo-{order.id}")
