"""Tables of the "at most one trip" applications feature."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel


class CalendarYear(SQLModel, table=True):
    """One year of China's statutory holidays and make-up working days, kept as data.

    Seeded from chinese-calendar for the years it knows; an administrator adds each
    new year when the State Council publishes its schedule.
    """

    __tablename__ = "applications_calendar_year"

    year: int = Field(primary_key=True)
    holidays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Weekend days that are working days (调休上班).
    workdays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=64)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
