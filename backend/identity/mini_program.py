"""Mini-program sign-in: the platform's one-time code, then a phone check to bind.

The first time a WeChat or Alipay user arrives, we only know their openid. They get
a short-lived binding ticket; verifying a phone with an SMS code binds the openid
to that phone's account (created if new), and later code logins go straight in.
"""

from __future__ import annotations

import json
import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.clock import utcnow
from backend.identity import otp
from backend.identity.exceptions import BindingTicketInvalid, OtpInvalid
from backend.identity.models import MiniProgramBinding
from backend.identity.schemas import MiniProgramLoginResult, TokenPair
from backend.identity.service import LOGIN, Identity

TICKET_TTL = 600.0


async def login_with_code(
    identity: Identity, db: AsyncSession, platform: str, code: str, device: str
) -> MiniProgramLoginResult:
    session = await identity.department("mini_program", f"{platform}_code2session", {"code": code})
    openid = str(session["openid"])
    found = await db.exec(
        select(MiniProgramBinding).where(
            MiniProgramBinding.platform == platform, MiniProgramBinding.openid == openid
        )
    )
    binding = found.first()
    if binding is not None:
        citizen = await identity.citizen_by_id(db, binding.citizen_id)
        tokens = await identity.start_session(db, citizen, "mini_program", device)
        return MiniProgramLoginResult(bound=True, tokens=tokens)
    ticket = secrets.token_urlsafe(24)
    await identity.kv.set(
        f"mp-ticket:{ticket}",
        json.dumps({"platform": platform, "openid": openid, "unionid": session.get("unionid")}),
        ttl=TICKET_TTL,
    )
    return MiniProgramLoginResult(
        bound=False, binding_ticket=ticket, ticket_expires_in=int(TICKET_TTL)
    )


async def bind_with_phone(
    identity: Identity,
    db: AsyncSession,
    ticket: str,
    phone: str,
    code: str,
    requester: str,
    device: str,
) -> TokenPair:
    raw = await identity.kv.get(f"mp-ticket:{ticket}")
    if raw is None:
        raise BindingTicketInvalid()
    phone_hash = identity.phone_hash(phone)
    if not await otp.consume_code(identity.kv, LOGIN, phone_hash, code, clock=identity.clock):
        raise OtpInvalid()
    await identity.phone_proven(phone_hash, requester)
    if await identity.kv.delete(f"mp-ticket:{ticket}") != 1:
        raise BindingTicketInvalid()  # used by a concurrent request a moment ago
    pending = json.loads(raw)
    citizen = await identity.citizen_for_phone(db, phone, phone_hash)
    try:
        async with db.begin_nested():
            db.add(
                MiniProgramBinding(
                    platform=pending["platform"],
                    openid=pending["openid"],
                    unionid=pending["unionid"],
                    citizen_id=citizen.id,
                    created_at=utcnow(),
                )
            )
    except IntegrityError:
        raise BindingTicketInvalid("This mini-program user is already bound") from None
    return await identity.start_session(db, citizen, "mini_program", device)
