"""Social insurance (hrss) and housing provident fund data.

Both departments see the same working life (employer, contribution base, since
when, whether paused or retired), so the two stay consistent for one citizen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from ._core import REFERENCE_DATE, Rng, add_years, age, birth_date, is_male, money, month_add
from .people import employer, person_name, previous_employer

Month = tuple[int, int]
_REF_MONTH: Month = (REFERENCE_DATE.year, REFERENCE_DATE.month)
_HISTORY_START: Month = (2020, 1)


@dataclass(frozen=True, slots=True)
class WorkLife:
    status: str  # 参保缴费 | 暂停缴费 | 已退休 | 未参保
    base: Decimal
    first_month: Month
    last_month: Month
    months: int
    job_change: Month | None  # the current employer pays from this month on


@lru_cache(maxsize=8192)
def work_life(id_no: str) -> WorkLife:
    """The shared employment history behind hrss and provident fund answers."""
    rng = Rng("work-life", id_no)
    born = birth_date(id_no)
    base = Decimal(rng.randint(35, 250) * 100)
    first: Month = (born.year + 22 + rng.randint(0, 3), rng.randint(1, 12))
    if first > _REF_MONTH:
        return WorkLife("未参保", base, _REF_MONTH, _REF_MONTH, 0, None)
    retire_at = born.year + (60 if is_male(id_no) else 55)
    if (retire_at, born.month) <= _REF_MONTH:
        status, last = "已退休", month_add(retire_at, born.month, -1)
    elif rng.chance(0.15):
        status, last = "暂停缴费", month_add(*_REF_MONTH, -rng.randint(1, 30))
    else:
        status, last = "参保缴费", _REF_MONTH
    last = max(last, first)
    span = (last[0] - first[0]) * 12 + last[1] - first[1] + 1
    months = max(1, span - rng.randint(0, min(12, span - 1)))
    change: Month | None = None
    if rng.chance(0.4) and last > max(first, _HISTORY_START):
        lo = max(first, _HISTORY_START)
        gap = (last[0] - lo[0]) * 12 + last[1] - lo[1]
        change = month_add(*lo, rng.randint(1, gap)) if gap >= 1 else None
    return WorkLife(status, base, first, last, months, change)


def _months_back(last: Month, count: int, first: Month) -> list[Month]:
    result = []
    for back in range(count):
        month = month_add(*last, -back)
        if month < first:
            break
        result.append(month)
    return result


def _employer_in(id_no: str, life: WorkLife, month: Month) -> str:
    if life.job_change is not None and month < life.job_change:
        return previous_employer(id_no)
    return employer(id_no)


def _pct(amount: Decimal, rate: str) -> str:
    return money((amount * Decimal(rate)).quantize(Decimal("0.01"), ROUND_HALF_UP))


# --- hrss ----------------------------------------------------------------------------


def pension_record(id_no: str) -> dict[str, str]:
    """QueryPension's Data: Name, AccountBalance, ContributionMonths, MonthlyPension, Status."""
    life = work_life(id_no)
    retired = life.status == "已退休"
    pension = Rng("pension", id_no).money(2600, 6800) if retired else "0.00"
    return {
        "Name": person_name(id_no),
        "AccountBalance": _pct(life.base * life.months, "0.08"),
        "ContributionMonths": str(life.months),
        "MonthlyPension": pension,
        "Status": "暂停缴费" if life.status == "未参保" else life.status,
    }


_INSURANCE_RATES = (  # (insurance, personal rate, employer rate)
    ("养老保险", "0.08", "0.16"),
    ("医疗保险", "0.02", "0.065"),
    ("失业保险", "0.005", "0.005"),
)


def insurance_records(id_no: str, year: int | None = None) -> list[dict[str, str]]:
    """Monthly contributions, newest first: a given year, or the last 12 paid months."""
    life = work_life(id_no)
    if life.months == 0:
        return []
    if year is None:
        months = _months_back(life.last_month, 12, life.first_month)
    else:
        months = [(year, m) for m in range(12, 0, -1)]
        months = [m for m in months if life.first_month <= m <= life.last_month]
    records = []
    for y, m in months:
        payer = _employer_in(id_no, life, (y, m))
        for kind, personal, company in _INSURANCE_RATES:
            records.append(
                {
                    "Month": f"{y}-{m:02d}",
                    "Type": kind,
                    "Base": money(life.base),
                    "PersonalAmount": _pct(life.base, personal),
                    "EmployerAmount": _pct(life.base, company),
                    "Employer": payer,
                }
            )
    return records


def medical_insurance_balance(id_no: str) -> dict[str, str]:
    life = work_life(id_no)
    rng = Rng("medical", id_no)
    insured = life.status in ("参保缴费", "已退休")
    return {
        "Balance": rng.money(200, 9000) if insured else "0.00",
        "YearSpent": rng.money(0, 3000) if insured else "0.00",
        "Status": "正常参保" if insured else "暂停参保",
    }


def social_security_balance(id_no: str) -> dict[str, str]:
    life = work_life(id_no)
    return {
        "PensionBalance": pension_record(id_no)["AccountBalance"],
        "MedicalBalance": medical_insurance_balance(id_no)["Balance"],
        "UnemploymentMonths": str(0 if life.status == "已退休" else life.months),
    }


def payables(id_no: str) -> list[dict[str, str]]:
    """Contributions the citizen pays personally (residents' insurance, flexible work)."""
    life = work_life(id_no)
    rng = Rng("payables", id_no)
    bills = []
    if life.status in ("未参保", "暂停缴费") or rng.chance(0.2):
        bills.append(("城乡居民基本医疗保险", "400.00", "2026-12-31"))
    if life.status == "暂停缴费":
        amount = _pct(life.base * 3, "0.20")
        bills.append(("灵活就业人员基本养老保险（季度）", amount, "2026-11-30"))
    return [
        {"BillNo": f"SB2026{rng.digits(10)}{n}", "Type": kind, "Amount": amount, "DueDate": due}
        for n, (kind, amount, due) in enumerate(bills)
    ]


# --- provident fund --------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _fund(id_no: str) -> tuple[str, Decimal, Decimal, Month, Month, str]:
    """(status, depositBase, monthlyDeposit, first month, last month, accountNo)."""
    life = work_life(id_no)
    rng = Rng("gjj", id_no)
    active = life.status == "参保缴费" and rng.chance(0.85)
    rate = Decimal(rng.choice(("0.05", "0.08", "0.10", "0.12")))
    base = life.base
    monthly = (base * rate).quantize(Decimal("1"), ROUND_HALF_UP) * 2
    last = (
        _REF_MONTH if active else min(life.last_month, month_add(*_REF_MONTH, -rng.randint(1, 40)))
    )
    first = max(life.first_month, _HISTORY_START)
    if life.months == 0 or last < first:
        first, last = _REF_MONTH, month_add(*_REF_MONTH, -1)  # never deposited: empty history
    return ("正常缴存" if active else "封存", base, monthly, first, last, "3401" + rng.digits(10))


def provident_fund_account(id_no: str) -> dict[str, str]:
    status, base, monthly, first, last, account_no = _fund(id_no)
    deposited = max(0, (last[0] - first[0]) * 12 + last[1] - first[1] + 1)
    share = Decimal(Rng("gjj-balance", id_no).randint(20, 95)) / 100  # the rest was withdrawn
    return {
        "name": person_name(id_no),
        "accountNo": account_no,
        "balance": money((monthly * deposited * share).quantize(Decimal("0.01"))),
        "monthlyDeposit": money(monthly),
        "depositBase": money(base),
        "status": status,
        "lastDepositMonth": f"{last[0]}-{last[1]:02d}" if deposited else "",
    }


def provident_fund_deposits(id_no: str) -> list[dict[str, str]]:
    """Every monthly deposit since 2020, newest first (the server pages through it)."""
    _, _, monthly, first, last, _ = _fund(id_no)
    life = work_life(id_no)
    catch_up = Rng("gjj-catch-up", id_no).randint(1, 60)
    records = []
    for n, month in enumerate(_months_back(last, 12 * 7, first)):
        records.append(
            {
                "month": f"{month[0]}-{month[1]:02d}",
                "amount": money(monthly),
                "employer": _employer_in(id_no, life, month),
                "type": "补缴" if n == catch_up else "汇缴",
            }
        )
    return records


def provident_fund_loans(id_no: str) -> list[dict[str, str]]:
    """Provident fund mortgages; most citizens have none."""
    rng = Rng("gjj-loans", id_no)
    if age(id_no) < 22:
        return []
    loans = []
    for n in range(rng.choice((0, 0, 0, 1, 1, 2))):
        principal = Decimal(rng.randint(20, 120) * 10000)
        years = rng.choice((15, 20, 25, 30))
        rate = Decimal(rng.choice(("2.85", "3.10", "3.25")))
        start = rng.day(date(2020, 1, 1), date(2026, 6, 30)).replace(day=1)
        r = rate / 1200
        payment = principal * r / (1 - (1 + r) ** -(years * 12))
        paid = (REFERENCE_DATE.year - start.year) * 12 + REFERENCE_DATE.month - start.month
        remaining = principal * (1 + r) ** paid - payment * ((1 + r) ** paid - 1) / r
        loans.append(
            {
                "loanNo": f"GJJDK{start:%Y%m}{rng.digits(6)}{n}",
                "amount": money(principal),
                "remaining": money(remaining.quantize(Decimal("0.01"))),
                "monthlyPayment": money(payment.quantize(Decimal("0.01"))),
                "rate": str(rate),
                "startDate": start.isoformat(),
                "endDate": add_years(start, years).isoformat(),
            }
        )
    return loans
