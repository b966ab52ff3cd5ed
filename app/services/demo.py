"""Demo data for trying IGNY8 on a laptop."""

from __future__ import annotations

from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import IndustrySector, User
from app.services.accounts.auth import find_user_by_email, signup
from app.services.operator import create_operator
from app.services.accounts.sites import create_site

DEMO_EMAIL = "demo@igny8.example.com"
DEMO_PASSWORD = "try-igny8-now"
OPERATOR_EMAIL = "operator@igny8.example.com"
OPERATOR_PASSWORD = "run-the-platform"


def seed_demo() -> dict[str, str]:
    """Create the demo account (with a site and two sectors) and an operator, once."""
    if find_user_by_email(DEMO_EMAIL) is None:
        user: User = signup(account_name="Demo Agency", name="Demo Owner", email=DEMO_EMAIL,
                            password=DEMO_PASSWORD)
        with tenancy.account_scope(user.account_id):
            templates = db.session.scalars(
                select(IndustrySector).where(IndustrySector.slug.in_(["coffee", "baking"]))
                .order_by(IndustrySector.slug.desc())
            ).all()
            create_site(name="Demo Coffee Blog", url="https://coffee.example.com", timezone="UTC",
                        industry_id=templates[0].industry_id if templates else None,
                        sector_template_ids=[t.id for t in templates],
                        sector_names=[] if templates else ["Coffee", "Baking"])
        tenancy.unbind()
    if find_user_by_email(OPERATOR_EMAIL) is None:
        create_operator(email=OPERATOR_EMAIL, password=OPERATOR_PASSWORD, name="Demo Operator")
    return {"email": DEMO_EMAIL, "password": DEMO_PASSWORD,
            "operator_email": OPERATOR_EMAIL, "operator_password": OPERATOR_PASSWORD}
