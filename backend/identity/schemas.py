"""Request and response bodies of identity."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.identity.validators import CreditCode, IdNumber, PersonName, PhoneNumber

Client = Literal["app", "mini_program", "web"]


class _Body(BaseModel):
    # hide_input_in_errors: a rejected phone or ID number must not travel on in error text.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class SmsCodeRequest(_Body):
    phone: PhoneNumber = Field(examples=["13812341234"])


class SmsCodeSent(BaseModel):
    expires_in: int = Field(description="Seconds the code stays valid")
    resend_after: int = Field(description="Seconds before another code may be sent")


class DeviceInfo(_Body):
    client: Client = "app"
    device: str = Field(default="unknown", max_length=128, examples=["iPhone 15 / 合肥通 3.2"])


class SmsLogin(DeviceInfo):
    phone: PhoneNumber
    code: str = Field(pattern=r"^\d{6}$", examples=["123456"])


class PasswordLogin(DeviceInfo):
    phone: PhoneNumber
    password: str = Field(min_length=1, max_length=128)


class RefreshRequest(_Body):
    refresh_token: str = Field(min_length=16, max_length=256)


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str = Field(description="Opaque, single use: each refresh returns a new one")
    session_id: str


class PasswordChange(_Body):
    password: str = Field(min_length=8, max_length=128)


class RealNameRequest(_Body):
    name: PersonName = Field(examples=["张三"])
    id_number: IdNumber = Field(examples=["34010419900307201X"])


class Me(BaseModel):
    id: str
    phone: str = Field(description="Masked (138****1234) unless revealed")
    name: str | None
    id_number: str | None = Field(description="Masked (3401**********201X) unless revealed")
    assurance_level: int = Field(ge=1, le=3)
    has_password: bool
    created_at: datetime


class SessionOut(BaseModel):
    id: str
    client: str
    device: str
    created_at: datetime
    last_used_at: datetime
    current: bool


class SessionList(BaseModel):
    items: list[SessionOut]


class MiniProgramLoginRequest(_Body):
    platform: Literal["wechat", "alipay"]
    code: str = Field(
        min_length=1, max_length=128, description="The platform's one-time login code"
    )
    device: str = Field(default="mini-program", max_length=128)


class MiniProgramLoginResult(BaseModel):
    bound: bool = Field(description="False the first time: verify a phone to bind")
    tokens: TokenPair | None = None
    binding_ticket: str | None = Field(default=None, description="For /login/mini-program/bind")
    ticket_expires_in: int | None = None


class MiniProgramBind(_Body):
    binding_ticket: str = Field(min_length=16, max_length=64)
    phone: PhoneNumber
    code: str = Field(pattern=r"^\d{6}$")
    device: str = Field(default="mini-program", max_length=128)


class FaceVerification(_Body):
    image: str = Field(
        min_length=16,
        max_length=2_000_000,
        pattern=r"^[A-Za-z0-9+/=\s]+$",
        description="The live photo, base64 (the app's liveness SDK takes it)",
    )


class EnterpriseLinkRequest(_Body):
    credit_code: CreditCode = Field(examples=["91340100MA2N0XYZ1A"])


class AgentRequest(_Body):
    phone: PhoneNumber


class ActAsRequest(_Body):
    credit_code: CreditCode | None = Field(
        default=None, description="The enterprise to act for; null to act for yourself again"
    )


class EnterpriseOut(BaseModel):
    credit_code: str
    name: str
    role: Literal["legal_representative", "agent"]


class EnterpriseList(BaseModel):
    items: list[EnterpriseOut]
