"""Electronic licences (电子证照) held by a citizen, consistent with the other departments."""

from __future__ import annotations

import re
from datetime import date, timedelta

from integrations.identifiers import CREDIT_CODE_CHARSET, credit_code_check_char

from ._core import HEFEI_DISTRICTS, REFERENCE_DATE, Rng, add_years, age, birth_date, district_code
from .catalogs import HOSPITALS
from .civic import properties
from .people import person_name
from .social import work_life
from .traffic import vehicles

# licenceType -> (number prefix, licenceName). The prefix makes a licence number
# resolvable without server state: prefix + holder ID + sequence.
LICENCE_TYPES: dict[str, tuple[str, str]] = {
    "id_card": ("SFZ", "居民身份证"),
    "household_register": ("HKB", "居民户口簿"),
    "marriage_certificate": ("JHZ", "结婚证"),
    "degree_certificate": ("XWZ", "学位证书"),
    "driving_licence": ("JSZ", "机动车驾驶证"),
    "vehicle_licence": ("XSZ", "机动车行驶证"),
    "business_licence": ("YYZZ", "营业执照"),
    "birth_medical_certificate": ("CSZM", "出生医学证明"),
    "real_estate_certificate": ("BDC", "不动产权证书"),
    "social_security_card": ("SBK", "社会保障卡"),
}
PERMANENT = "长期"  # what Chinese licence systems print for "no expiry"
_NUMBER_RE = re.compile(r"([A-Z]+)(\d{17}[\dX])(\d)")
_UNIVERSITIES = ("中国科学技术大学", "合肥工业大学", "安徽大学", "安徽医科大学", "安徽农业大学")


def licences(id_no: str, base_url: str = "") -> list[dict[str, str]]:
    """The licences a citizen holds; always an ID card and a household register.

    ``fileUrl`` points at the e_license server's file route, so pass the server's
    base URL to get the exact value it returns.
    """
    rng = Rng("licences", id_no)
    years = age(id_no)
    district = HEFEI_DISTRICTS[district_code(id_no)]
    police = f"合肥市公安局{district}分局"
    born = birth_date(id_no)
    held: list[tuple[str, str, date, str]] = []  # (type, issuer, issuedAt, validUntil)

    card_issued = rng.day(max(date(2020, 1, 1), add_years(born, 16)))
    card_years = 10 if years < 26 else 20 if years < 46 else 0
    held.append(
        (
            "id_card",
            police,
            card_issued,
            add_years(card_issued, card_years).isoformat() if card_years else PERMANENT,
        )
    )
    held.append(("household_register", police, rng.day(), PERMANENT))
    if years >= 22 and rng.chance(0.6):
        held.append(("marriage_certificate", f"合肥市{district}民政局", rng.day(), PERMANENT))
    if years >= 22 and rng.chance(0.5):
        held.append(("degree_certificate", rng.choice(_UNIVERSITIES), rng.day(), PERMANENT))
    cars = vehicles(id_no)
    if years >= 18 and (cars or rng.chance(0.4)):
        issued = rng.day()
        held.append(("driving_licence", "合肥市公安局交通警察支队", issued, _plus(issued, 6)))
    for car in cars:
        registered = date.fromisoformat(car["registerDate"])
        held.append(("vehicle_licence", "合肥市公安局交通警察支队", registered, PERMANENT))
    if years >= 22 and rng.chance(0.08):
        held.append(("business_licence", "合肥市市场监督管理局", rng.day(), PERMANENT))
    if years < 18:
        hospital = rng.choice(HOSPITALS)[1]
        held.append(("birth_medical_certificate", hospital, max(born, date(2020, 1, 1)), PERMANENT))
    for home in properties(id_no):
        issued = date.fromisoformat(home["registeredAt"])
        held.append(("real_estate_certificate", "合肥市自然资源和规划局", issued, PERMANENT))
    if work_life(id_no).months > 0 or rng.chance(0.5):
        issued = rng.day()
        held.append(
            ("social_security_card", "合肥市人力资源和社会保障局", issued, _plus(issued, 10))
        )

    name = person_name(id_no)
    seen: dict[str, int] = {}
    result = []
    for kind, issuer, issued_at, valid_until in held:
        seq = seen[kind] = seen.get(kind, 0) + 1
        prefix, title = LICENCE_TYPES[kind]
        number = f"{prefix}{id_no}{seq}"
        record = {
            "licenceType": kind,
            "licenceNo": number,
            "licenceName": title,
            "holderName": name,
            "issuer": issuer,
            "issuedAt": min(issued_at, REFERENCE_DATE).isoformat(),
            "validUntil": valid_until,
            "fileUrl": f"{base_url}/license/files/{number}.pdf",
        }
        if kind == "business_licence":
            record |= enterprise(id_no)
        result.append(record)
    return result


_TRADES = ("科技", "信息技术", "商贸", "餐饮管理", "建筑工程", "文化传媒", "物流", "电子商务")


def enterprise(id_no: str) -> dict[str, str]:
    """The enterprise whose business licence a citizen holds as legal representative."""
    rng = Rng("enterprise", id_no)
    # 9 = registered by market regulation, 1 = enterprise, 340100 = Hefei.
    body = "91340100" + "".join(rng.choice(CREDIT_CODE_CHARSET) for _ in range(9))
    brand = rng.choice(("徽", "庐", "肥", "巢", "包", "蜀", "瑶")) + rng.choice(
        ("新", "远", "达", "恒")
    )
    return {
        "creditCode": body + credit_code_check_char(body),
        "enterpriseName": f"合肥{brand}{rng.choice(_TRADES)}有限公司",
        "legalRepresentative": person_name(id_no),
    }


def licence(licence_no: str, base_url: str = "") -> dict[str, str] | None:
    """One licence by number, or None when no citizen holds it."""
    match = _NUMBER_RE.fullmatch(licence_no)
    if match is None:
        return None
    for held in licences(match.group(2), base_url):
        if held["licenceNo"] == licence_no:
            return held
    return None


def _plus(day: date, years: int) -> str:
    return (add_years(day, years) - timedelta(days=1)).isoformat()
