"""The home screen: six sections from five departments, fetched at once, bounded by one deadline.

A section that is not back by the deadline is reported ``unavailable`` (its call
goes on in the background and fills the cache for next time); a section whose
department failed but has a recent cached answer is reported ``stale``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from backend.errors import AppError
from backend.gateway.schemas import Overview, OverviewSection
from backend.gateway.service import Answer, Gateway
from integrations.base import Caller

SECTIONS: dict[str, tuple[str, str]] = {
    "social_security": ("hrss", "social_security_balance"),
    "provident_fund": ("provident_fund", "balance"),
    "medical_insurance": ("hrss", "medical_insurance_balance"),
    "traffic_violations": ("traffic_police", "violations"),
    "licence_points": ("traffic_police", "points"),
    "appointments": ("hospital", "appointments"),
}


# Kept back from the budget for assembling and sending the answer, so it arrives by the
# deadline rather than just after it.
RESPONSE_MARGIN = 0.025


async def build_overview(gateway: Gateway, caller: Caller, budget: float) -> Overview:
    deadline = time.monotonic() + max(0.0, budget - RESPONSE_MARGIN)
    tasks = {
        name: asyncio.ensure_future(gateway.fetch(adapter, operation, {}, caller, deadline))
        for name, (adapter, operation) in SECTIONS.items()
    }
    await asyncio.wait(tasks.values(), timeout=max(0.0, deadline - time.monotonic()))
    sections: dict[str, OverviewSection] = {}
    for name, task in tasks.items():
        if not task.done():
            task.cancel()  # the shared upstream call is shielded and keeps filling the cache
            sections[name] = OverviewSection(status="unavailable", error="ADAPTER_TIMEOUT")
            continue
        exc = task.exception()
        if exc is None:
            answer: Answer = task.result()
            sections[name] = OverviewSection(
                status="stale" if answer.cache == "stale" else "ok",
                data=answer.data,
                fetched_at=datetime.fromisoformat(answer.fetched_at),
            )
        else:
            code = exc.code if isinstance(exc, AppError) else "ADAPTER_UNAVAILABLE"
            sections[name] = OverviewSection(status="unavailable", error=code)
    return Overview(**sections, generated_at=datetime.now(UTC))
