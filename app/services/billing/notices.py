"""Messages about money: low balance."""

from __future__ import annotations

from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import User
from app.services.mail import absolute_url, send_mail
from app.services.notifications import notify


def low_balance_notice(*, account_id: int, balance: int, threshold: int) -> None:
    """Tell the owners once per crossing below the threshold (in-app and by e-mail)."""
    title = f"Low credit balance: {balance} left"
    body = (f"Your balance fell below {threshold} credits. Buy credits to keep AI work and "
            "automation running.")
    notify(account_id=account_id, title=title, body=body, link="/billing/buy", level="warning",
           roles=("owner",), commit=False)
    with tenancy.all_accounts():
        owners = db.session.scalars(select(User.email).where(User.account_id == account_id,
                                                             User.role == "owner", User.active.is_(True)))
        for email in owners:
            send_mail(to=email, subject=title,
                      body=f"{body}\n\nBuy credits: {absolute_url('/billing/buy')}\n")
