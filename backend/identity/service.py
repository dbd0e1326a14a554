"""Accounts, sign-in, sessions and refresh tokens. No HTTP types here."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pwdlib import PasswordHash
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.clock import SYSTEM, Clock, utcnow
from backend.department_problems import problem_for
from backend.identity import otp
from backend.identity.exceptions import (
    FaceMismatch,
    IdNumberInUse,
    InvalidCredentials,
    OtpInvalid,
    RateLimited,
    RealNameMismatch,
    RealNameRequired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    SessionNotFound,
    retry_after,
)
from backend.identity.models import AuthSession, Citizen, RefreshToken
from backend.identity.notices import CitizenNotices
from backend.identity.ratelimit import (
    PASSWORD_FAILURES_PER_ACCOUNT,
    PASSWORD_PER_IP,
    RateLimits,
)
from backend.identity.schemas import TokenPair
from backend.identity.sms_limits import SmsCodeLimits
from backend.identity.tokens import AccessClaims, TokenService
from backend.kv import KV
from backend.pagination import PageRequest, fetch_page
from backend.pii import PiiCipher
from integrations.base import AdapterError, Caller
from integrations.invoker import Invoker

log = structlog.get_logger("hefeitong.identity")

LOGIN = "login"
SYSTEM_CALLER = Caller(subject="system:identity", assurance_level=3)
# Verified against when the phone is unknown, so a wrong phone costs as much as a wrong password.
_DUMMY_HASH = PasswordHash.recommended().hash("not-a-real-password")


def _as_utc(value: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive; they were written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class Identity:
    """Everything identity needs, built once per app in the lifespan."""

    pii: PiiCipher
    tokens: TokenService
    limits: RateLimits
    kv: KV
    invoker: Invoker
    refresh_ttl: float
    passwords: PasswordHash
    sessions: async_sessionmaker[AsyncSession]
    # The per-phone limits of sign-in codes, judged by ``clock`` (sms_limits.py).
    sms_limits: SmsCodeLimits
    # In-app messages to citizens, written by the message centre (notices.py).
    notices: CitizenNotices
    # What OTP expiry is judged by (the app's; a test moves it to let a code expire).
    clock: Clock = SYSTEM
    # Callers by access-token id: one account lookup per token, not per request. A change
    # (real name) shows in the next token, which a refresh gives within minutes.
    _callers: OrderedDict[str, Caller] = field(default_factory=OrderedDict)

    async def department(
        self,
        adapter: str,
        operation: str,
        params: dict[str, Any],
        caller: Caller = SYSTEM_CALLER,
    ) -> Any:
        """Call a department for identity itself, or on a citizen's behalf with ``caller``.

        Failures become the gateway's problems (502/503/504, or the department's refusal).
        """
        try:
            return await self.invoker.call(
                adapter, operation, params, caller, deadline=time.monotonic() + 5
            )
        except AdapterError as exc:
            raise problem_for(exc) from exc

    def phone_hash(self, phone: str) -> str:
        return self.pii.blind_index(phone, field="phone")

    def requester_hash(self, requester: str) -> str:
        """What rate limits key a requester by: a keyed hash, never the address in clear."""
        return self.pii.blind_index(requester, field="requester")

    # --- SMS codes ----------------------------------------------------------------------

    async def send_login_code(self, phone: str, requester: str) -> int:
        """Text a sign-in code; returns the seconds before ``requester`` may ask again.

        Same answer for known and unknown phones: an SMS login creates the account, and the
        limits (sms_limits.py) read the phone's and the requester's history only.
        """
        phone_hash = self.phone_hash(phone)
        who = self.requester_hash(requester)
        wait = await self.limits.hit(self.limits.sms_per_requester, "sms", who)
        if wait is not None:
            raise RateLimited("Too many codes requested", headers=retry_after(wait))
        admitted = await self.sms_limits.admit(phone_hash, who)
        if not admitted.allowed:
            raise RateLimited(
                "Too many codes requested for this phone", headers=retry_after(admitted.seconds)
            )
        code = await otp.issue_code(self.kv, LOGIN, phone_hash, clock=self.clock)
        await self.department(
            "sms", "send", {"phone": phone, "template": "SMS_LOGIN", "values": {"code": code}}
        )
        return admitted.seconds

    async def phone_proven(self, phone_hash: str, requester: str) -> None:
        """The requester signed the phone in: the code limits it had used up are lifted."""
        await self.sms_limits.proven(phone_hash, self.requester_hash(requester))

    async def login_with_sms(
        self, db: AsyncSession, phone: str, code: str, requester: str, client: str, device: str
    ) -> TokenPair:
        phone_hash = self.phone_hash(phone)
        if not await otp.consume_code(self.kv, LOGIN, phone_hash, code, clock=self.clock):
            raise OtpInvalid()
        await self.phone_proven(phone_hash, requester)
        citizen = await self.citizen_for_phone(db, phone, phone_hash)
        return await self.start_session(db, citizen, client, device)

    async def citizen_for_phone(self, db: AsyncSession, phone: str, phone_hash: str) -> Citizen:
        found = await self.citizen_by_phone_hash(db, phone_hash)
        if found is not None:
            return found
        now = utcnow()
        citizen = Citizen(
            phone_enc=self.pii.encrypt(phone, field="phone"),
            phone_hash=phone_hash,
            assurance_level=1,
            created_at=now,
            updated_at=now,
        )
        try:
            async with db.begin_nested():  # a concurrent first login may have just created it
                db.add(citizen)
        except IntegrityError:
            found = await self.citizen_by_phone_hash(db, phone_hash)
            assert found is not None
            return found
        return citizen

    async def find_citizen(self, db: AsyncSession, citizen_id: str) -> Citizen | None:
        """The account, or None when there is none (any more)."""
        return await db.get(Citizen, citizen_id)

    async def citizen_by_id(self, db: AsyncSession, citizen_id: str) -> Citizen:
        citizen = await db.get(Citizen, citizen_id)
        assert citizen is not None, "foreign keys keep bindings and sessions pointing at accounts"
        return citizen

    async def phone_of(self, db: AsyncSession, citizen_id: str) -> str | None:
        """The citizen's phone number in clear, to text them; None when the account is gone."""
        citizen = await db.get(Citizen, citizen_id)
        return None if citizen is None else self.pii.decrypt(citizen.phone_enc, field="phone")

    async def citizen_by_phone_hash(self, db: AsyncSession, phone_hash: str) -> Citizen | None:
        result = await db.exec(select(Citizen).where(Citizen.phone_hash == phone_hash))
        return result.first()

    # --- passwords ----------------------------------------------------------------------

    async def login_with_password(
        self, db: AsyncSession, phone: str, password: str, requester: str, client: str, device: str
    ) -> TokenPair:
        phone_hash = self.phone_hash(phone)
        wait = await self.limits.hit(PASSWORD_PER_IP, "password-ip", self.requester_hash(requester))
        wait = wait or await self.limits.blocked(PASSWORD_FAILURES_PER_ACCOUNT, "pw", phone_hash)
        if wait is not None:
            raise RateLimited("Too many sign-in attempts", headers=retry_after(wait))
        citizen = await self.citizen_by_phone_hash(db, phone_hash)
        stored = citizen.password_hash if citizen and citizen.password_hash else _DUMMY_HASH
        # argon2 takes tens of milliseconds of CPU: never on the event loop.
        valid = await asyncio.to_thread(self.passwords.verify, password, stored)
        if not valid or citizen is None or citizen.password_hash is None:
            await self.limits.hit(PASSWORD_FAILURES_PER_ACCOUNT, "pw", phone_hash)
            raise InvalidCredentials()
        await self.phone_proven(phone_hash, requester)
        return await self.start_session(db, citizen, client, device)

    async def set_password(self, db: AsyncSession, citizen: Citizen, password: str) -> None:
        citizen.password_hash = await asyncio.to_thread(self.passwords.hash, password)
        citizen.updated_at = utcnow()
        db.add(citizen)

    # --- sessions and tokens ------------------------------------------------------------

    async def start_session(
        self, db: AsyncSession, citizen: Citizen, client: str, device: str
    ) -> TokenPair:
        now = utcnow()
        session = AuthSession(
            citizen_id=citizen.id, client=client, device=device, created_at=now, last_used_at=now
        )
        db.add(session)
        await db.flush()
        return await self.issue_for_session(db, citizen, session, auth_time=int(now.timestamp()))

    async def issue_for_session(
        self,
        db: AsyncSession,
        citizen: Citizen,
        session: AuthSession,
        *,
        auth_time: int,
        acting_for: str | None = None,
    ) -> TokenPair:
        refresh = secrets.token_urlsafe(32)
        now = utcnow()
        db.add(
            RefreshToken(
                token_hash=_hash_token(refresh),
                session_id=session.id,
                issued_at=now,
                expires_at=now + timedelta(seconds=self.refresh_ttl),
            )
        )
        access, lifetime = self.tokens.issue(
            citizen.id,
            session.id,
            citizen.assurance_level,
            auth_time=auth_time,
            acting_for=acting_for,
        )
        return TokenPair(
            access_token=access, expires_in=lifetime, refresh_token=refresh, session_id=session.id
        )

    async def refresh(self, db: AsyncSession, refresh_token: str) -> TokenPair:
        token = await db.get(RefreshToken, _hash_token(refresh_token))
        if token is None or _as_utc(token.expires_at) <= utcnow():
            raise RefreshTokenInvalid()
        session = await db.get(AuthSession, token.session_id)
        if session is None or session.revoked_at is not None:
            raise RefreshTokenInvalid()
        # Mark used only if still unused: of two concurrent uses, exactly one wins.
        claimed = await db.exec(
            update(RefreshToken)
            .where(col(RefreshToken.token_hash) == token.token_hash)
            .where(col(RefreshToken.used_at).is_(None))
            .values(used_at=utcnow())
        )
        if claimed.rowcount != 1:
            await self._revoke_for_reuse(db, session)
            raise RefreshTokenReused()
        citizen = await db.get(Citizen, session.citizen_id)
        assert citizen is not None
        session.last_used_at = utcnow()
        db.add(session)
        auth_time = int(_as_utc(session.created_at).timestamp())
        return await self.issue_for_session(db, citizen, session, auth_time=auth_time)

    async def _revoke_for_reuse(self, db: AsyncSession, session: AuthSession) -> None:
        session.revoked_at, session.revoked_reason = utcnow(), "refresh_reuse"
        db.add(session)
        # Committed here, not by the session dependency: the request ends in an error (which
        # rolls back), but the revocation of a possibly stolen token family must stay.
        await db.commit()
        await self.tokens.revoke_session(session.id)
        log.warning("refresh_token_reused", session_id=session.id)

    async def revoke(self, db: AsyncSession, citizen_id: str, session_id: str, reason: str) -> None:
        session = await db.get(AuthSession, session_id)
        if session is None or session.citizen_id != citizen_id:
            raise SessionNotFound()
        if session.revoked_at is None:
            session.revoked_at, session.revoked_reason = utcnow(), reason
            db.add(session)
        await self.tokens.revoke_session(session_id)

    async def revoke_all(self, db: AsyncSession, citizen_id: str) -> int:
        sessions = await self.active_sessions(db, citizen_id)
        for session in sessions:
            await self.revoke(db, citizen_id, session.id, "logout_all")
        return len(sessions)

    async def session_page(
        self, db: AsyncSession, citizen_id: str, page: PageRequest
    ) -> tuple[list[AuthSession], str | None]:
        """One page of the citizen's live sessions, newest sign-in first.

        Paged by when each session began, not by when it was last used: that changes with
        every refresh, and a device refreshed while the list is paged would jump ahead of the
        cursor and be skipped.
        """
        query = select(AuthSession).where(
            AuthSession.citizen_id == citizen_id, col(AuthSession.revoked_at).is_(None)
        )
        return await fetch_page(db, query, page, at=AuthSession.created_at, id=AuthSession.id)

    async def active_sessions(self, db: AsyncSession, citizen_id: str) -> list[AuthSession]:
        result = await db.exec(
            select(AuthSession)
            .where(AuthSession.citizen_id == citizen_id)
            .where(col(AuthSession.revoked_at).is_(None))
            .order_by(col(AuthSession.last_used_at).desc())
        )
        return list(result.all())

    # --- real name ----------------------------------------------------------------------

    async def verify_real_name(
        self, db: AsyncSession, citizen: Citizen, name: str, id_number: str
    ) -> Citizen:
        result = await self.department(
            "identity_check", "verify", {"name": name, "id_number": id_number}
        )
        if not result.get("match"):
            raise RealNameMismatch()
        # Checked after the match, so nobody learns whether a number is registered without
        # also knowing the name that goes with it.
        id_hash = self.pii.blind_index(id_number, field="id_number")
        holder = await db.exec(select(Citizen).where(Citizen.id_number_hash == id_hash))
        other = holder.first()
        if other is not None and other.id != citizen.id:
            raise IdNumberInUse()
        citizen.name_enc = self.pii.encrypt(name, field="name")
        citizen.id_number_enc = self.pii.encrypt(id_number, field="id_number")
        citizen.id_number_hash = id_hash
        citizen.assurance_level = max(citizen.assurance_level, 2)
        citizen.updated_at = utcnow()
        db.add(citizen)
        return citizen

    async def verify_face(self, db: AsyncSession, citizen: Citizen, image: str) -> Citizen:
        """L3: the public-security face check against the verified ID number's photo."""
        if citizen.id_number_enc is None:
            raise RealNameRequired()
        id_number = self.pii.decrypt(citizen.id_number_enc, field="id_number")
        result = await self.department(
            "identity_check", "face", {"id_number": id_number, "image": image}
        )
        if not result.get("match"):
            raise FaceMismatch()
        citizen.assurance_level = 3
        citizen.updated_at = utcnow()
        db.add(citizen)
        return citizen

    async def caller(self, claims: AccessClaims) -> Caller:
        cached = self._callers.get(claims.jti)
        if cached is not None:
            return cached
        async with self.sessions() as db:
            citizen = await db.get(Citizen, claims.subject)
        if citizen is None:
            raise RefreshTokenInvalid()
        caller = self.caller_of_citizen(
            citizen,
            level=min(claims.assurance_level, citizen.assurance_level),
            acting_for=claims.acting_for,
        )
        self._callers[claims.jti] = caller
        if len(self._callers) > 10_000:
            self._callers.popitem(last=False)
        return caller

    def caller_of_citizen(
        self, citizen: Citizen, *, level: int | None = None, acting_for: str | None = None
    ) -> Caller:
        """The citizen as departments see them (their ID number and name go along)."""
        return Caller(
            subject=citizen.id,
            assurance_level=citizen.assurance_level if level is None else level,
            id_number=self.pii.decrypt(citizen.id_number_enc, field="id_number")
            if citizen.id_number_enc
            else None,
            name=self.pii.decrypt(citizen.name_enc, field="name") if citizen.name_enc else None,
            phone=self.pii.decrypt(citizen.phone_enc, field="phone"),
            acting_for=acting_for,
        )


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
