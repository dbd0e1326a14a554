"""Who a citizen is: name, phone, address and employer, all derived from the ID number."""

from __future__ import annotations

from ._core import HEFEI_DISTRICTS, Rng, district_code, is_male
from .catalogs import COMMUNITIES, EMPLOYERS, GIVEN_FEMALE, GIVEN_MALE, STREETS, SURNAMES


def person_name(id_no: str) -> str:
    """A plausible Chinese name; the identity check treats it as the ID's true holder."""
    rng = Rng("name", id_no)
    given = GIVEN_MALE if is_male(id_no) else GIVEN_FEMALE
    name = rng.choice(SURNAMES) + rng.choice(given)
    if rng.chance(0.7):
        name += rng.choice(given)
    return name


def gender(id_no: str) -> str:
    return "男" if is_male(id_no) else "女"


def phone(id_no: str) -> str:
    rng = Rng("phone", id_no)
    return rng.choice(("139", "138", "137", "188", "186", "177", "155", "133", "199")) + rng.digits(
        8
    )


def home_address(id_no: str) -> str:
    rng = Rng("address", id_no)
    district = HEFEI_DISTRICTS[district_code(id_no)]
    street = f"{rng.choice(STREETS)}{rng.randint(1, 999)}号"
    building = f"{rng.choice(COMMUNITIES)}{rng.randint(1, 30)}栋{rng.randint(1, 3)}单元"
    return f"安徽省合肥市{district}{street}{building}{rng.randint(1, 32)}{rng.randint(1, 4):02d}室"


def employer(id_no: str) -> str:
    return Rng("employer", id_no).choice(EMPLOYERS)


def previous_employer(id_no: str) -> str:
    """Where someone who changed jobs worked before (a different company)."""
    current = employer(id_no)
    return Rng("employer-prev", id_no).choice([e for e in EMPLOYERS if e != current])


def random_name(rng: Rng) -> str:
    """A name for someone who is not a citizen of the data set (a doctor, say)."""
    given = GIVEN_MALE if rng.chance(0.55) else GIVEN_FEMALE
    name = rng.choice(SURNAMES) + rng.choice(given)
    return name + rng.choice(given) if rng.chance(0.6) else name
