"""Platform reference data: industries, sectors, seed keywords, default plans."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import CreditPackage, Industry, IndustrySector, OperationPrice, Plan, SeedKeyword

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "reference.json"

DEFAULT_PLANS = [
    dict(name="Free", monthly_credits=100, price=0, billing_cycle="monthly",
         support_level="community", features="Try the whole pipeline on a small scale.",
         is_default=True),
    dict(name="Growth", monthly_credits=2000, price=49, billing_cycle="monthly",
         support_level="email", features="For a growing site or a small agency."),
    dict(name="Agency", monthly_credits=10000, price=199, billing_cycle="monthly",
         support_level="priority", features="For agencies running many client sites."),
]


DEFAULT_PACKAGES = [
    dict(name="Starter pack", credits=500, price=10),
    dict(name="Growth pack", credits=3000, price=50),
    dict(name="Agency pack", credits=15000, price=200),
]

# Local work priced per unit; AI work is priced by the model catalogue.
DEFAULT_OPERATION_PRICES = [
    dict(operation="clustering", unit="keyword", credits_per_unit=0.05, min_credits=1,
         description="Semantic clustering computed on our servers: 1 credit per 20 keywords."),
]


def load_reference_data(path: Path = DATA_FILE) -> dict[str, int]:
    """Insert missing industries, sectors, seed keywords and plans; safe to run again."""
    data = json.loads(path.read_text(encoding="utf-8"))
    added = {"industries": 0, "sectors": 0, "keywords": 0, "plans": 0}
    for item in data["industries"]:
        industry = db.session.scalars(select(Industry).where(Industry.slug == item["slug"])).first()
        if industry is None:
            industry = Industry(name=item["name"], slug=item["slug"], description=item.get("description", ""))
            db.session.add(industry)
            db.session.flush()
            added["industries"] += 1
        for sector_item in item["sectors"]:
            sector = db.session.scalars(
                select(IndustrySector).where(IndustrySector.industry_id == industry.id,
                                             IndustrySector.slug == sector_item["slug"])
            ).first()
            if sector is None:
                sector = IndustrySector(industry_id=industry.id, name=sector_item["name"],
                                        slug=sector_item["slug"],
                                        description=sector_item.get("description", ""))
                db.session.add(sector)
                db.session.flush()
                added["sectors"] += 1
            existing = set(db.session.scalars(
                select(SeedKeyword.keyword).where(SeedKeyword.industry_sector_id == sector.id)))
            for keyword, volume, difficulty, intent in sector_item["keywords"]:
                if keyword in existing:
                    continue
                existing.add(keyword)
                db.session.add(SeedKeyword(industry_sector_id=sector.id, keyword=keyword,
                                           volume=volume, difficulty=difficulty, intent=intent))
                added["keywords"] += 1
    for plan in DEFAULT_PLANS:
        if db.session.scalars(select(Plan).where(Plan.name == plan["name"])).first() is None:
            has_default = db.session.scalars(select(Plan).where(Plan.is_default.is_(True))).first()
            db.session.add(Plan(**{**plan, "is_default": plan.get("is_default", False) and not has_default}))
            added["plans"] += 1
    for package in DEFAULT_PACKAGES:
        if db.session.scalars(select(CreditPackage).where(CreditPackage.name == package["name"])).first() is None:
            db.session.add(CreditPackage(**package))
            added["packages"] = added.get("packages", 0) + 1
    for price in DEFAULT_OPERATION_PRICES:
        if db.session.scalars(select(OperationPrice).where(OperationPrice.operation == price["operation"])).first() is None:
            db.session.add(OperationPrice(**price))
    db.session.commit()
    added["ai_catalogue"] = _seed_ai_catalogue()
    return added


def _seed_ai_catalogue() -> int:
    """Default AI providers and models (the AI engine owns the list)."""
    from app.services.ai.catalogue import seed_ai_catalogue

    return seed_ai_catalogue()
