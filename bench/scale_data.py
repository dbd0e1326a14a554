"""Data for bench/applications_scale.py: reproducible citizens, applications and ratings.

The generator (fixed seed) makes rows in the column order of ``CITIZEN_COLUMNS``,
``APPLICATION_COLUMNS`` and ``RATING_COLUMNS``: citizens with real ``PiiCipher``
ciphertext, applications over the catalog's application services for the last two years
(skewed per citizen and per service, ~10% open, clocks consistent with the platform's
working-day calendar), ratings for ~30% of the completed ones.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from backend.applications.working_days import WorkingCalendar, seed_years
from backend.catalog.data_file import BUNDLED_CATALOG, load_catalog_file
from backend.pii import PiiCipher
from integrations.identifiers import id_number_check_digit

SEED = 20261126
EPOCH = date(1970, 1, 1).toordinal()
CHUNK = 50_000
CHINA = timedelta(hours=8)
DAY = 86_400

CITIZEN_COLUMNS = (
    "id", "phone_enc", "phone_hash", "password_hash", "name_enc", "id_number_enc",
    "id_number_hash", "assurance_level", "created_at", "updated_at",
)  # fmt: skip
APPLICATION_COLUMNS = (
    "id", "number", "service_code", "applicant_id", "enterprise_id", "status", "form",
    "delivery", "materials", "trips", "created_at", "updated_at", "submitted_at",
    "accepted_at", "promised_days", "due_on", "warn_on", "due_estimated", "paused_on",
    "paused_days", "finished_at", "result",
)  # fmt: skip
RATING_COLUMNS = ("application_id", "score", "comment", "created_at")
DELIVERIES = (
    ('{"method": "e_license"}', "e_license", 60),
    ('{"method": "mail", "address": "合肥市蜀山区长江西路100号"}', "mail", 25),
    ('{"method": "pickup"}', "pickup", 15),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉"
REGIONS = ("340102", "340103", "340104", "340111", "340121", "340122", "340123", "340124")
PHONE_PREFIXES = (130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155,
                  156, 157, 158, 159, 166, 176, 177, 178, 180, 181, 182, 183, 185, 186,
                  187, 188, 189, 191, 198, 199)  # fmt: skip


def uuid7_at(millis: int, rng: random.Random) -> str:
    """A UUIDv7 for a given moment, random bits from the seeded generator (reproducible)."""
    value = (millis << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64)
    return str(uuid.UUID(int=value | (0b10 << 62) | rng.getrandbits(62)))


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class AppService:
    code: str
    promised: int
    trips: int


def application_services() -> list[AppService]:
    catalog, _ = load_catalog_file(BUNDLED_CATALOG)
    return [
        AppService(s.code, s.promised_days or 0, s.trips or 0)
        for s in catalog.services
        if s.kind == "application"
    ]


class Workdays:
    """The platform calendar as ordinals (working days up to and including each China
    day), so the clock of millions of rows costs two lookups each, not a day-by-day walk.
    Same answers as ``WorkingCalendar``, which it is checked against."""

    def __init__(self, calendar: WorkingCalendar, first: date, last: date) -> None:
        self.calendar, self.first = calendar, first
        self.days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        self.ordinal: list[int] = []
        self.by_ordinal: dict[int, date] = {}
        count = 0
        for day in self.days:
            if calendar.is_working_day(day):
                count += 1
                self.by_ordinal[count] = day
            self.ordinal.append(count)
        self.estimated_from = min(
            (d for d in self.days if not calendar.knows(d.year)), default=date.max
        )

    def index(self, day: date) -> int:
        return (day - self.first).days

    def add(self, start: int, days: int) -> int:
        """Index of the ``days``-th working day after the day at index ``start``."""
        if days == 0:
            return start
        return self.index(self.by_ordinal[self.ordinal[start] + days])

    def check(self, rng: random.Random) -> None:
        for _ in range(2000):
            start = rng.randrange(len(self.days) - 60)
            n = rng.randrange(25)
            expected = self.calendar.add_working_days(self.days[start], n).due
            assert self.days[self.add(start, n)] == expected, (self.days[start], n)


class Generator:
    """Reproducible rows, applications in order of submission (ids and numbers ascend)."""

    def __init__(self, citizens: int, applications: int, now: float) -> None:
        self.rng = random.Random(SEED)
        self.citizens, self.applications, self.now = citizens, applications, now
        self.services = application_services()
        ranks = list(range(len(self.services)))
        self.rng.shuffle(ranks)  # popular services (Zipf) anywhere in the catalog
        self.service_weights = [1 / (r + 1) ** 0.8 for r in ranks]
        self.today = int((now + CHINA.total_seconds()) // DAY)  # China day number
        self.first_day = self.today - 730  # to yesterday: ``now`` is a midnight
        calendar = WorkingCalendar(seed_years())
        self.workdays = Workdays(
            calendar,
            date.fromordinal(EPOCH + self.first_day - 10),
            date.fromordinal(EPOCH + self.today + 400),
        )
        self.workdays.check(self.rng)
        self.citizen_ids: list[str] = []
        self.status_mix: Counter[str] = Counter()
        self.ratings = 0

    # --- citizens ---------------------------------------------------------------------

    def citizen_rows(self, cipher: PiiCipher, start: int, stop: int) -> list[tuple[Any, ...]]:
        rng, rows = self.rng, []
        id_space = len(REGIONS) * 21_900 * 1000  # region × birth day (60 years) × sequence
        assert math.gcd(1_000_003, id_space) == 1 and math.gcd(7_919_993, 10**8) == 1
        born0 = date(1950, 1, 1).toordinal()
        for i in range(start, stop):
            created = self.now - 3 * 365 * DAY + rng.random() * 365 * DAY
            cid = uuid7_at(int(created * 1000), rng)
            self.citizen_ids.append(cid)
            prefix, rest = PHONE_PREFIXES[i % len(PHONE_PREFIXES)], i // len(PHONE_PREFIXES)
            phone = f"{prefix}{(rest * 7_919_993 + 4_242) % 10**8:08d}"
            level = rng.choices((1, 2, 3), (20, 75, 5))[0]
            name_enc = id_enc = id_hash = None
            if level >= 2:
                j = (i * 1_000_003 + 17) % id_space
                region, j = REGIONS[j % len(REGIONS)], j // len(REGIONS)
                born = date.fromordinal(born0 + j % 21_900).strftime("%Y%m%d")
                first17 = f"{region}{born}{j // 21_900:03d}"
                id_number = first17 + id_number_check_digit(first17)
                name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
                name_enc = cipher.encrypt(name, field="name")
                id_enc = cipher.encrypt(id_number, field="id_number")
                id_hash = cipher.blind_index(id_number, field="id_number")
            moment = at(created)
            rows.append((
                cid, cipher.encrypt(phone, field="phone"), cipher.blind_index(phone, field="phone"),
                None, name_enc, id_enc, id_hash, level, moment, moment,
            ))  # fmt: skip
        return rows

    # --- applications -----------------------------------------------------------------

    def plan(self) -> None:
        """Applications per citizen (a quarter have none; lognormal, so most have a few
        and a few have hundreds) and per day (weekdays busier, the platform growing)."""
        rng = self.rng
        weights = [0.0 if rng.random() < 0.25 else rng.lognormvariate(0, 1.0)
                   for _ in range(self.citizens)]  # fmt: skip
        scale = self.applications / sum(weights)
        counts = [int(w * scale) for w in weights]
        active = [i for i, w in enumerate(weights) if w > 0]
        for i in rng.sample(active, self.applications - sum(counts)):
            counts[i] += 1
        self.per_citizen = Counter(counts)
        owners = [i for i, n in enumerate(counts) for _ in range(n)]
        rng.shuffle(owners)
        self.owners = owners
        days = range(self.first_day, self.today)
        w = [
            (1.0 if self.workdays.calendar.is_working_day(date.fromordinal(EPOCH + d)) else 0.35)
            * (0.7 + 0.6 * (d - self.first_day) / 730)
            for d in days
        ]
        expected = [x * self.applications / sum(w) for x in w]
        per_day = [int(x) for x in expected]
        for k in rng.choices(range(len(per_day)), weights=w, k=self.applications - sum(per_day)):
            per_day[k] += 1
        assert max(per_day) <= 99_999, "five-digit daily sequence exceeded"
        self.per_day = list(zip(days, per_day, strict=True))

    def application_chunks(
        self,
    ) -> Callable[[], tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        rng, wd, now = self.rng, self.workdays, self.now
        services = self.services
        cum = list(_accumulate(self.service_weights))
        state = {"day": 0, "n": 0}

        def chunk() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
            apps: list[tuple[Any, ...]] = []
            ratings: list[tuple[Any, ...]] = []
            while len(apps) < CHUNK and state["day"] < len(self.per_day):
                day, count = self.per_day[state["day"]]
                state["day"] += 1
                base = day * DAY - CHINA.total_seconds()  # China midnight, in UTC seconds
                # Office hours mostly, evenings some, nights little.
                moments = sorted(base + _time_of_day(rng) for _ in range(count))
                picked = rng.choices(services, cum_weights=cum, k=count)
                stamp = date.fromordinal(EPOCH + day).strftime("%Y%m%d")
                for seq, (moment, svc) in enumerate(zip(moments, picked, strict=True), 1):
                    moment = min(moment, now - 1)
                    owner = self.citizen_ids[self.owners[state["n"]]]
                    state["n"] += 1
                    row, rating = self._application(rng, wd, now, moment, svc, owner, stamp, seq)
                    apps.append(row)
                    if rating:
                        ratings.append(rating)
            return apps, ratings

        return chunk

    def _application(
        self, rng: random.Random, wd: Workdays, now: float, created: float, svc: AppService,
        owner: str, stamp: str, seq: int,
    ) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:  # fmt: skip
        age = (now - created) / DAY
        delivery, method = _pick_delivery(rng)
        p_open = min(0.95, 15 / max(age, 0.01)) * (0.3 if svc.promised == 0 and age > 3 else 1)
        roll = rng.random()
        status = "completed"
        if roll < p_open:
            status = "submitted" if age < 1.5 and rng.random() < 0.6 else rng.choices(
                ("in_review", "supplement_required", "approved"), (60, 25, 15))[0]  # fmt: skip
        else:
            roll = rng.random()
            status = "withdrawn" if roll < 0.04 else "rejected" if roll < 0.10 else "completed"
        accepted = created + min(rng.expovariate(1 / 14_400), 26 * 3600) + 300
        if (status == "withdrawn" and rng.random() < 0.5) or accepted > now:
            accepted = 0.0  # never accepted
            if status != "withdrawn":
                status = "submitted"
        promised = due = warn = paused_on = None
        estimated, paused, finished, result = False, 0, 0.0, None
        updated = created
        trips = 1 if svc.trips and rng.random() < 0.4 else 0
        if accepted:
            updated = accepted
            accept_day = int((accepted + CHINA.total_seconds()) // DAY) - wd_offset(wd)
            promised = svc.promised
            if promised and rng.random() < 0.15:
                paused = rng.randint(1, 6)  # working days a supplement kept the clock paused
            due_i = wd.add(accept_day, promised + paused)
            due, warn = (
                wd.days[due_i],
                wd.days[wd.add(accept_day, math.ceil(promised * 0.8) + paused)],
            )
            estimated = wd.days[accept_day] >= wd.estimated_from or due >= wd.estimated_from
            if status in ("completed", "rejected", "withdrawn"):
                if promised == 0:
                    used = 0 if rng.random() < 0.95 else rng.randint(1, 2)
                elif rng.random() < 0.93:
                    used = round(promised * rng.betavariate(2.5, 1.5))
                else:
                    used = promised + rng.randint(1, max(2, promised // 2))
                if status == "withdrawn":
                    used = min(used, promised)
                fin_i = wd.add(accept_day, used + paused)
                fin_base = (wd_offset(wd) + fin_i) * DAY - CHINA.total_seconds()
                finished = fin_base + rng.uniform(9 * 3600, 17.5 * 3600)
                if finished <= accepted:
                    finished = min(accepted + rng.uniform(300, 10_800), fin_base + DAY - 1)
                if finished > now:
                    finished, status = 0.0, "in_review"
            elif status == "supplement_required":
                today_i = int((now + CHINA.total_seconds()) // DAY) - wd_offset(wd)
                paused_on = wd.days[rng.randint(min(accept_day, today_i), today_i)]
        elif status == "withdrawn":
            finished = min(created + rng.uniform(600, 2 * DAY), now - 1)
        if status == "completed" and method == "pickup":
            trips += 1  # fetching the result at the window
        if status == "completed" and svc.trips and rng.random() < 0.03:
            trips += 1  # a second visit: over the allowance
        trips = min(trips, 2)
        if status == "completed":
            result = (f'{{"e_license_no": "EL{stamp}{seq:05d}"}}' if method == "e_license"
                      else f'{{"tracking_no": "SF{stamp}{seq:05d}"}}' if method == "mail"
                      else '{"pickup": "窗口领取"}')  # fmt: skip
        if finished:
            updated = finished
        self.status_mix[status] += 1
        app_id = uuid7_at(int(created * 1000), rng)
        created_at = at(created)
        row = (
            app_id, f"HF{stamp}{seq:05d}", svc.code, owner, None, status, "{}", delivery, "[]",
            trips, created_at, at(updated), created_at, at(accepted) if accepted else None,
            promised, due, warn, estimated, paused_on, paused, at(finished) if finished else None,
            result,
        )  # fmt: skip
        rating = None
        if status == "completed" and rng.random() < 0.30:
            rated = finished + rng.uniform(600, 3 * DAY)
            if rated < now:
                score = rng.choices((5, 4, 3, 2, 1), (70, 18, 6, 3, 3))[0]
                comment = "办事很方便" if score >= 4 and rng.random() < 0.2 else None
                rating = (app_id, score, comment, at(rated))
                self.ratings += 1
        return row, rating


def wd_offset(wd: Workdays) -> int:
    return wd.first.toordinal() - EPOCH  # the calendar's first day as a day number


def _accumulate(values: list[float]) -> list[float]:
    out, total = [], 0.0
    for v in values:
        total += v
        out.append(total)
    return out


_HOURS = list(range(24))
_HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 18, 16, 10, 12, 16, 17, 15, 12, 9, 10, 11, 10,
                 6, 3]  # fmt: skip


_HOUR_CUMULATIVE = _accumulate([float(w) for w in _HOUR_WEIGHTS])


def _time_of_day(rng: random.Random) -> float:
    return rng.choices(_HOURS, cum_weights=_HOUR_CUMULATIVE)[0] * 3600 + rng.random() * 3600


def _pick_delivery(rng: random.Random) -> tuple[str, str]:
    roll = rng.random() * 100
    for body, method, share in DELIVERIES:
        if roll < share:
            return body, method
        roll -= share
    return DELIVERIES[0][0], DELIVERIES[0][1]
