"""Education, transit and housing-registry data."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from ._core import HEFEI_DISTRICTS, REFERENCE_DATE, Rng, age, birth_date, district_code
from .catalogs import COMMUNITIES, PARKS, ROUTES, SCHOOLS
from .people import person_name
from .social import provident_fund_loans
from .traffic import vehicles

_SCHOOLS = [
    {
        "schoolCode": s[0],
        "schoolName": s[1],
        "stage": s[2],
        "district": s[3],
        "address": s[4],
        "quota": s[5],
    }
    for s in SCHOOLS
]

# (subject, full marks) — Hefei's zhongkao and Anhui's "3+1+2" gaokao
_EXAM_SUBJECTS = {
    "zhongkao": (("语文", 150), ("数学", 150), ("英语", 150), ("物理", 90), ("化学", 60),
                 ("道德与法治", 80), ("历史", 70), ("体育与健康", 60)),
    "gaokao": (("语文", 150), ("数学", 150), ("外语", 150), ("物理", 100), ("化学", 100),
               ("生物学", 100)),
}  # fmt: skip


def schools(district: str, stage: str | None = None) -> list[dict[str, Any]]:
    return [
        dict(s) for s in _SCHOOLS if s["district"] == district and stage in (None, "", s["stage"])
    ]


def enrolment(id_no: str, year: int) -> dict[str, str]:
    """A child's school admission for a year (primary at 6–9, junior secondary after)."""
    rng = Rng("enrolment", id_no, str(year))
    stage = "primary" if year - birth_date(id_no).year <= 9 else "junior"
    status = rng.choice(("已录取", "已录取", "已录取", "审核中", "未报名"))
    if status == "未报名":
        return {
            "studentName": person_name(id_no),
            "schoolName": "",
            "schoolCode": "",
            "stage": stage,
            "status": status,
            "admissionNo": "",
        }
    nearby = schools(district_code(id_no), stage) or [s for s in _SCHOOLS if s["stage"] == stage]
    school = rng.choice(nearby)
    admitted = status == "已录取"
    return {
        "studentName": person_name(id_no),
        "schoolName": str(school["schoolName"]),
        "schoolCode": str(school["schoolCode"]),
        "stage": stage,
        "status": status,
        "admissionNo": f"RX{year}{rng.digits(8)}" if admitted else "",
    }


def exam_result(id_no: str, exam: str, year: int) -> dict[str, Any] | None:
    """Scores of the zhongkao or gaokao; None for an exam kind the bureau does not hold."""
    subjects = _EXAM_SUBJECTS.get(exam)
    if subjects is None:
        return None
    rng = Rng("exam", id_no, exam, str(year))
    ability = 0.55 + rng.random() * 0.4
    points = [
        min(full, round(full * (ability + (rng.random() - 0.5) * 0.2))) for _, full in subjects
    ]
    scores = [{"name": name, "score": p} for (name, _), p in zip(subjects, points, strict=True)]
    prefix = "ZK" if exam == "zhongkao" else f"{year % 100:02d}34"
    return {
        "studentName": person_name(id_no),
        "examNo": prefix + rng.digits(10),
        "total": sum(points),
        "subjects": scores,
    }


# --- transit ---------------------------------------------------------------------------


def transit_cards(id_no: str) -> list[dict[str, str]]:
    rng = Rng("transit-cards", id_no)
    years = age(id_no)
    kind = "老年卡" if years >= 65 else "学生卡" if 6 <= years < 18 else "普通卡"
    kinds = [kind, "普通卡"] if kind != "普通卡" and rng.chance(0.3) else [kind]
    return [
        {
            "cardNo": "3100" + rng.digits(12),
            "cardType": k,
            "balance": rng.money(0, 300),
            "status": "挂失" if rng.chance(0.05) else "正常",
        }
        for k in kinds
    ]


def parking_records(id_no: str) -> list[dict[str, Any]]:
    """Parking sessions of the citizen's vehicles, newest first."""
    plates = [v["plateNo"] for v in vehicles(id_no)]
    if not plates:
        return []
    rng = Rng("parking", id_no)
    records = []
    for _ in range(rng.randint(0, 8)):
        enter = datetime.combine(
            rng.day(REFERENCE_DATE - timedelta(days=90)), datetime.min.time()
        ) + timedelta(minutes=rng.randint(7 * 60, 21 * 60))
        stay = rng.randint(10, 300)
        fee = 0 if stay <= 15 else min(45, 2 + (stay // 60) * 3)
        records.append(
            {
                "plateNo": rng.choice(plates),
                "parkName": rng.choice(PARKS),
                "enterTime": enter.strftime("%Y-%m-%d %H:%M:%S"),
                "leaveTime": (enter + timedelta(minutes=stay)).strftime("%Y-%m-%d %H:%M:%S"),
                "fee": f"{fee}.00",
                "paid": fee == 0 or not rng.chance(0.15),
            }
        )
    return sorted(records, key=lambda r: str(r["enterTime"]), reverse=True)


def routes(keyword: str | None = None) -> list[dict[str, Any]]:
    """Fixed bus and metro routes; keyword matches number, name or a stop."""
    result = []
    for no, name, kind, first, last, stops in ROUTES:
        if (
            keyword
            and keyword not in no
            and keyword not in name
            and not any(keyword in s for s in stops)
        ):
            continue
        result.append(
            {
                "routeNo": no,
                "name": name,
                "type": kind,
                "firstTime": first,
                "lastTime": last,
                "stops": list(stops),
            }
        )
    return result


# --- housing registry ------------------------------------------------------------------


def properties(id_no: str) -> list[dict[str, Any]]:
    """Registered real estate; a provident fund mortgage marks the first home mortgaged."""
    rng = Rng("properties", id_no)
    if age(id_no) < 22:
        return []
    has_loan = bool(provident_fund_loans(id_no))
    count = rng.choice((0, 1, 1, 1, 2))
    count = max(count, 1) if has_loan else count
    result = []
    for n in range(count):
        registered = rng.day(date(2020, 1, 1))
        district = HEFEI_DISTRICTS[rng.choice(tuple(HEFEI_DISTRICTS))]
        usage = "住宅" if n == 0 else rng.choice(("住宅", "车位", "商业"))
        area = rng.randint(1200, 2000) if usage == "车位" else rng.randint(5500, 16000)
        result.append(
            {
                "certNo": f"皖({registered.year})合肥市不动产权第{rng.digits(7)}号",
                "address": f"合肥市{district}{rng.choice(COMMUNITIES)}{rng.randint(1, 30)}栋"
                f"{rng.randint(1, 33)}{rng.randint(1, 4):02d}室",
                "area": f"{area / 100:.2f}",
                "usage": usage,
                "registeredAt": registered.isoformat(),
                "mortgaged": (n == 0 and has_loan) or rng.chance(0.15),
            }
        )
    return result
