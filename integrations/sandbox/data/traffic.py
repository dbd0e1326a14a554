"""Traffic police data: vehicles, violations, unpaid fines and licence points."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from ._core import REFERENCE_DATE, Rng, add_years, age
from .catalogs import TRAFFIC_BEHAVIORS, TRAFFIC_LOCATIONS, VEHICLE_MODELS
from .people import person_name

_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O on plates


def _plate(rng: Rng) -> str:
    if rng.chance(0.3):  # new-energy plates: D (electric) or F (hybrid) + 5 digits
        return "皖A" + rng.choice("DF") + rng.digits(5)
    tail = [rng.choice(_PLATE_LETTERS) if rng.chance(0.3) else rng.digits(1) for _ in range(4)]
    return "皖A" + rng.choice(_PLATE_LETTERS) + "".join(tail)


def vehicles(id_no: str) -> list[dict[str, str]]:
    """Vehicles registered to the citizen (adults only; most have 0 or 1)."""
    rng = Rng("vehicles", id_no)
    if age(id_no) < 18:
        return []
    result = []
    for _ in range(rng.choice((0, 0, 1, 1, 1, 2))):
        brand, model = rng.choice(VEHICLE_MODELS)
        registered = rng.day(date(2020, 1, 1), date(2026, 6, 30))
        due = add_years(registered, 6 if registered.year >= 2022 else 4 + rng.randint(0, 2))
        result.append(
            {
                "plateNo": _plate(rng),
                "brand": brand,
                "model": model,
                "registerDate": registered.isoformat(),
                "inspectionDue": due.isoformat(),
                "status": "正常" if due > REFERENCE_DATE else "逾期未检验",
            }
        )
    return result


@lru_cache(maxsize=8192)
def _violations(id_no: str) -> tuple[dict[str, Any], ...]:
    rng = Rng("violations", id_no)
    if age(id_no) < 18 or rng.chance(0.35):
        return ()
    count = rng.randint(1, 25) if rng.chance(0.5) else rng.randint(1, 6)
    plates = [v["plateNo"] for v in vehicles(id_no)] or [_plate(rng)]
    items = []
    for n in range(count):
        behavior, points, fine = rng.choice(TRAFFIC_BEHAVIORS)
        when = datetime.combine(rng.day(date(2020, 1, 1)), datetime.min.time()) + timedelta(
            minutes=rng.randint(6 * 60, 23 * 60), seconds=rng.randint(0, 59)
        )
        recent = REFERENCE_DATE - when.date() < timedelta(days=120)
        items.append(
            {
                "violationId": f"WF{when:%Y%m%d}{rng.digits(6)}{n:02d}",
                "plateNo": rng.choice(plates),
                "time": when.strftime("%Y-%m-%d %H:%M:%S"),
                "location": rng.choice(TRAFFIC_LOCATIONS),
                "behavior": behavior,
                "points": points,
                "fine": fine,
                "handled": not rng.chance(0.6 if recent else 0.1),
            }
        )
    return tuple(sorted(items, key=lambda v: str(v["time"]), reverse=True))


def violations(id_no: str) -> list[dict[str, Any]]:
    """0–25 violations, newest first; enough for pagination to matter."""
    return [dict(v) for v in _violations(id_no)]


def fines(id_no: str) -> list[dict[str, str]]:
    """Unpaid fines: one per unhandled violation, payable within 30 days."""
    result = []
    for v in _violations(id_no):
        if v["handled"]:
            continue
        issued = datetime.strptime(v["time"], "%Y-%m-%d %H:%M:%S").date()
        result.append(
            {
                "fineNo": "FK" + v["violationId"][2:],
                "violationId": v["violationId"],
                "amount": v["fine"],
                "dueDate": (issued + timedelta(days=30)).isoformat(),
            }
        )
    return result


def licence_points(id_no: str) -> dict[str, str]:
    """The driving-licence record the legacy GBK endpoint returns, keyed as it spells them."""
    rng = Rng("licence-points", id_no)
    return {
        "SFZH": id_no,
        "XM": person_name(id_no),
        "DABH": "3401" + rng.digits(8),
        "LJJF": str(rng.choice((0, 0, 0, 1, 2, 3, 3, 4, 6, 9))),
        "ZT": "正常",
        "YXQZ": rng.day(date(2027, 1, 1), date(2036, 12, 31)).isoformat(),
    }
