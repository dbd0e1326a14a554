"""Deterministic citizen data for the sandbox departments.

Every function is pure: the same ID number gives the same answer in every process,
so tests compute the values a sandbox server must return by calling these. Records
use the field names of the department dialect that serves them (``pension_record``
has ``AccountBalance`` because hrss speaks XML with those element names). Amounts
are decimal strings with two places; event dates fall in 2020–2026 (expiry dates
may be later) and "today" is ``REFERENCE_DATE``.
"""

from ._core import (
    HEFEI_DISTRICTS,
    REFERENCE_DATE,
    Rng,
    age,
    birth_date,
    id_checksum,
    is_valid_id_checksum,
    is_valid_id_format,
    make_id_no,
    money,
)
from .civic import (
    enrolment,
    exam_result,
    parking_records,
    properties,
    routes,
    schools,
    transit_cards,
)
from .health import (
    department,
    departments,
    doctors,
    hospital,
    hospitals,
    past_appointments,
    reports,
    slot,
    slots,
)
from .licences import LICENCE_TYPES, PERMANENT, enterprise, licence, licences
from .people import employer, gender, home_address, person_name, phone
from .social import (
    WorkLife,
    insurance_records,
    medical_insurance_balance,
    payables,
    pension_record,
    provident_fund_account,
    provident_fund_deposits,
    provident_fund_loans,
    social_security_balance,
    work_life,
)
from .traffic import fines, licence_points, vehicles, violations

__all__ = [
    "HEFEI_DISTRICTS",
    "LICENCE_TYPES",
    "PERMANENT",
    "REFERENCE_DATE",
    "Rng",
    "WorkLife",
    "age",
    "birth_date",
    "department",
    "departments",
    "doctors",
    "employer",
    "enrolment",
    "enterprise",
    "exam_result",
    "fines",
    "gender",
    "home_address",
    "hospital",
    "hospitals",
    "id_checksum",
    "insurance_records",
    "is_valid_id_checksum",
    "is_valid_id_format",
    "licence",
    "licence_points",
    "licences",
    "make_id_no",
    "medical_insurance_balance",
    "money",
    "parking_records",
    "past_appointments",
    "payables",
    "pension_record",
    "person_name",
    "phone",
    "properties",
    "provident_fund_account",
    "provident_fund_deposits",
    "provident_fund_loans",
    "reports",
    "routes",
    "schools",
    "slot",
    "slots",
    "social_security_balance",
    "transit_cards",
    "vehicles",
    "violations",
    "work_life",
]
