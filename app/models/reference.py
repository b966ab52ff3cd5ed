"""Platform reference data: industries, their sectors and seed keywords."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db

INTENTS = ("informational", "commercial", "transactional", "navigational")


class Industry(db.Model):
    __tablename__ = "industries"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")

    sectors: Mapped[list["IndustrySector"]] = relationship(
        back_populates="industry", order_by="IndustrySector.name"
    )


class IndustrySector(db.Model):
    __tablename__ = "industry_sectors"

    id: Mapped[int] = mapped_column(primary_key=True)
    industry_id: Mapped[int] = mapped_column(
        ForeignKey("industries.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")

    industry: Mapped[Industry] = relationship(back_populates="sectors")
    seed_keywords: Mapped[list["SeedKeyword"]] = relationship(back_populates="industry_sector")

    __table_args__ = (UniqueConstraint("industry_id", "slug"),)


class SeedKeyword(db.Model):
    __tablename__ = "seed_keywords"

    id: Mapped[int] = mapped_column(primary_key=True)
    industry_sector_id: Mapped[int] = mapped_column(
        ForeignKey("industry_sectors.id", ondelete="CASCADE"), index=True
    )
    keyword: Mapped[str] = mapped_column(String(255))
    volume: Mapped[int] = mapped_column(Integer, default=0)
    difficulty: Mapped[int] = mapped_column(Integer, default=0)
    intent: Mapped[str] = mapped_column(String(20), default="informational")

    industry_sector: Mapped[IndustrySector] = relationship(back_populates="seed_keywords")

    __table_args__ = (UniqueConstraint("industry_sector_id", "keyword"),)
