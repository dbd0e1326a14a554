"""Encryption at rest, blind indexes, key configuration and masking of personal data."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.pii import (
    DEV_KEY_ID,
    PiiCipher,
    PiiDecryptError,
    mask_credit_code,
    mask_id_number,
    mask_name,
    mask_phone,
)

K1 = bytes(range(32))
K2 = bytes(range(100, 132))
INDEX_KEY = bytes(range(200, 232))
OTHER_INDEX_KEY = bytes(range(1, 33))

FIELDS = ("phone", "id_number", "name", "credit_code")
SAMPLES = {
    "phone": "13812341234",
    "id_number": "11010519491231002X",
    "name": "阿卜杜·热合曼",
    "credit_code": "91350100M000100Y43",
}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def unpadded_urlsafe(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def cipher() -> PiiCipher:
    return PiiCipher({"k1": K1}, "k1", INDEX_KEY)


def rotated() -> PiiCipher:
    return PiiCipher({"k1": K1, "k2": K2}, "k2", INDEX_KEY)


# --- encryption ---------------------------------------------------------------------


@pytest.mark.parametrize("field", FIELDS)
def test_round_trip_per_field(cipher: PiiCipher, field: str) -> None:
    value = SAMPLES[field]
    token = cipher.encrypt(value, field=field)
    assert value not in token
    assert cipher.decrypt(token, field=field) == value


@pytest.mark.parametrize("value", ["", "𠀾𪚥", "a" * 5000])
def test_round_trip_edge_values(cipher: PiiCipher, value: str) -> None:
    assert cipher.decrypt(cipher.encrypt(value, field="name"), field="name") == value


def test_token_format(cipher: PiiCipher) -> None:
    value = "13812341234"
    version, key_id, body = cipher.encrypt(value, field="phone").split(".")
    assert (version, key_id) == ("v1", "k1")
    assert "=" not in body
    blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert len(blob) == 12 + len(value.encode()) + 16  # nonce + ciphertext + tag


def test_encryption_is_randomised(cipher: PiiCipher) -> None:
    tokens = {cipher.encrypt("13812341234", field="phone") for _ in range(20)}
    assert len(tokens) == 20


@given(value=st.text(), field=st.sampled_from(FIELDS))
def test_round_trip_any_text(value: str, field: str) -> None:
    cipher = PiiCipher({"k1": K1}, "k1", INDEX_KEY)
    assert cipher.decrypt(cipher.encrypt(value, field=field), field=field) == value


def test_ciphertext_moved_to_another_column_fails(cipher: PiiCipher) -> None:
    token = cipher.encrypt("11010519491231002X", field="id_number")
    with pytest.raises(PiiDecryptError) as caught:
        cipher.decrypt(token, field="phone")
    assert "11010519491231002X" not in str(caught.value)


@pytest.mark.parametrize("position", [0, 11, 12, 20, -16, -1])  # nonce, ciphertext, tag
def test_tampered_bytes_fail(cipher: PiiCipher, position: int) -> None:
    version, key_id, body = cipher.encrypt("13812341234", field="phone").split(".")
    blob = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    blob[position] ^= 0x01
    with pytest.raises(PiiDecryptError):
        cipher.decrypt(f"{version}.{key_id}.{unpadded_urlsafe(bytes(blob))}", field="phone")


def test_truncated_or_garbled_tokens_fail(cipher: PiiCipher) -> None:
    token = cipher.encrypt("13812341234", field="phone")
    prefix, body = token.rsplit(".", 1)
    middle = len(body) // 2
    swapped = "A" if body[middle] != "A" else "B"
    bad = [
        token[:-1],
        token[:-4],
        f"{prefix}.{body[:20]}",
        f"{prefix}.{body[:middle]}{swapped}{body[middle + 1 :]}",
        f"{prefix}.{body}==",  # padding is not part of the canonical token
        f"{prefix}.{body[:-2]}+/",  # the standard alphabet is not
        f"{prefix}.",
        "v2." + token[3:],
        "k1." + body,
        "v1..abc",
        "v1.k1",
        "not a token",
        "",
    ]
    for candidate in bad:
        with pytest.raises(PiiDecryptError):
            cipher.decrypt(candidate, field="phone")


def test_unknown_key_id_fails(cipher: PiiCipher) -> None:
    other = PiiCipher({"k9": K2}, "k9", INDEX_KEY)
    with pytest.raises(PiiDecryptError, match="k9"):
        cipher.decrypt(other.encrypt("13812341234", field="phone"), field="phone")


def test_relabelled_key_id_fails() -> None:
    both = rotated()
    token = PiiCipher({"k1": K1}, "k1", INDEX_KEY).encrypt("13812341234", field="phone")
    with pytest.raises(PiiDecryptError):
        both.decrypt(token.replace("v1.k1.", "v1.k2.", 1), field="phone")


def test_rotation_keeps_old_tokens_readable(cipher: PiiCipher) -> None:
    old = cipher.encrypt("13812341234", field="phone")
    after = rotated()
    assert after.current_key_id == "k2"
    assert after.decrypt(old, field="phone") == "13812341234"
    new = after.encrypt("13812341234", field="phone")
    assert new.startswith("v1.k2.")
    assert after.needs_rotation(old)
    assert not after.needs_rotation(new)
    assert not cipher.needs_rotation(old)

    moved = after.reencrypt(old, field="phone")
    assert moved.startswith("v1.k2.")
    assert after.decrypt(moved, field="phone") == "13812341234"
    assert after.reencrypt(new, field="phone") == new
    # A reader that only knows the old key cannot read values written after rotation.
    with pytest.raises(PiiDecryptError):
        cipher.decrypt(new, field="phone")


def test_needs_rotation_rejects_malformed_tokens(cipher: PiiCipher) -> None:
    with pytest.raises(PiiDecryptError):
        cipher.needs_rotation("plaintext-13812341234")


def test_field_names_are_identifiers(cipher: PiiCipher) -> None:
    for field in ("", "Phone", "phone:x", "id number"):
        with pytest.raises(ValueError):
            cipher.encrypt("13812341234", field=field)
        with pytest.raises(ValueError):
            cipher.blind_index("13812341234", field=field)


# --- blind index --------------------------------------------------------------------


def test_blind_index_is_deterministic_hmac(cipher: PiiCipher) -> None:
    index = cipher.blind_index("13812341234", field="phone")
    assert index == cipher.blind_index("13812341234", field="phone")
    # The format is fixed: migrations and other services recompute it independently.
    expected = hmac.new(INDEX_KEY, b"phone:13812341234", hashlib.sha256).hexdigest()
    assert index == expected
    assert index != cipher.blind_index("13812341235", field="phone")


def test_blind_index_differs_across_fields_and_index_keys(cipher: PiiCipher) -> None:
    value = "91350100M000100Y43"
    assert cipher.blind_index(value, field="credit_code") != cipher.blind_index(value, field="name")
    other = PiiCipher({"k1": K1}, "k1", OTHER_INDEX_KEY)
    assert cipher.blind_index(value, field="credit_code") != other.blind_index(
        value, field="credit_code"
    )


def test_blind_index_survives_encryption_key_rotation(cipher: PiiCipher) -> None:
    assert cipher.blind_index("13812341234", field="phone") == rotated().blind_index(
        "13812341234", field="phone"
    )


# --- construction and configuration --------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "current", "index_key"),
    [
        ({}, "k1", INDEX_KEY),
        ({"k1": K1[:16]}, "k1", INDEX_KEY),
        ({"k1": K1 + b"x"}, "k1", INDEX_KEY),
        ({"k1": K1}, "k2", INDEX_KEY),
        ({"k.1": K1}, "k.1", INDEX_KEY),
        ({"k1": K1}, "k1", INDEX_KEY[:16]),
        ({"k1": K1}, "k1", K1),
    ],
)
def test_constructor_rejects_bad_keys(
    keys: dict[str, bytes], current: str, index_key: bytes
) -> None:
    with pytest.raises(ValueError) as caught:
        PiiCipher(keys, current, index_key)
    assert K1.hex() not in str(caught.value)


def test_repr_shows_no_key_material(cipher: PiiCipher) -> None:
    text = repr(cipher)
    assert "k1" in text
    assert K1.hex() not in text and repr(K1) not in text and repr(INDEX_KEY) not in text


def test_from_config_last_key_is_current() -> None:
    spec = f" k1:{b64(K1)} , k2:{unpadded_urlsafe(K2)} "
    configured = PiiCipher.from_config(spec, b64(INDEX_KEY), secret="ignored")
    assert configured.key_ids == ("k1", "k2")
    assert configured.current_key_id == "k2"
    assert not configured.is_development
    token = configured.encrypt("13812341234", field="phone")
    assert token.startswith("v1.k2.")
    assert rotated().decrypt(token, field="phone") == "13812341234"
    assert configured.blind_index("x", field="name") == rotated().blind_index("x", field="name")


BAD_KEYS_SPECS = [
    "",
    "k1",
    f"k1{b64(K1)}",
    f":{b64(K1)}",
    "k1:",
    "k1:not base64!!",
    f"k1:{b64(K1[:16])}",
    f"k1:{b64(K1 + K2)}",
    f"k1:{b64(K1)},k1:{b64(K2)}",
    f"k1:{b64(K1)},",
    f"k1:{b64(K1)},,k2:{b64(K2)}",
    f"k.1:{b64(K1)}",
    f"dev:{b64(K1)}",
]


@pytest.mark.parametrize("spec", BAD_KEYS_SPECS)
def test_from_config_rejects_malformed_keys_without_echoing_them(spec: str) -> None:
    with pytest.raises(ValueError) as caught:
        PiiCipher.from_config(spec, b64(INDEX_KEY), secret="s" * 32)
    message = str(caught.value)
    assert "PII" in message
    for material in (b64(K1), b64(K2), b64(K1[:16]), b64(K1 + K2), "not base64"):
        assert material not in message


@pytest.mark.parametrize("index_spec", ["", "%%%", b64(INDEX_KEY[:16]), b64(K1)])
def test_from_config_rejects_bad_index_key(index_spec: str) -> None:
    with pytest.raises(ValueError) as caught:
        PiiCipher.from_config(f"k1:{b64(K1)}", index_spec, secret="s" * 32)
    assert "index key" in str(caught.value)
    assert index_spec == "" or index_spec not in str(caught.value)


@pytest.mark.parametrize(("keys_spec", "index_spec"), [(f"k1:{b64(K1)}", None), (None, "x")])
def test_from_config_wants_both_or_neither(keys_spec: str | None, index_spec: str | None) -> None:
    with pytest.raises(ValueError, match="both"):
        PiiCipher.from_config(keys_spec, index_spec, secret="s" * 32)


def test_development_keys_are_derived_from_the_secret() -> None:
    first = PiiCipher.from_config(None, None, secret="dev-secret-one")
    again = PiiCipher.from_config(None, None, secret="dev-secret-one")
    other = PiiCipher.from_config(None, None, secret="dev-secret-two")
    assert first.current_key_id == DEV_KEY_ID and first.is_development

    token = first.encrypt("11010519491231002X", field="id_number")
    assert token.startswith("v1.dev.")
    assert again.decrypt(token, field="id_number") == "11010519491231002X"
    with pytest.raises(PiiDecryptError):
        other.decrypt(token, field="id_number")

    index = first.blind_index("11010519491231002X", field="id_number")
    assert index == again.blind_index("11010519491231002X", field="id_number")
    assert index != other.blind_index("11010519491231002X", field="id_number")


def test_development_derivation_is_stable_across_releases() -> None:
    # Embedded databases keep their blind indexes; a changed derivation would orphan them.
    dev = PiiCipher.from_config(None, None, secret="dev-secret-one")
    assert dev.blind_index("13812341234", field="phone") == (
        "713ca84a0f49bf626f8b81f852e96f330b506f39d16ab02531575b347168c1e4"
    )


def test_development_keys_need_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        PiiCipher.from_config(None, None, secret="")


# --- masking ------------------------------------------------------------------------


def test_mask_phone() -> None:
    assert mask_phone("13812341234") == "138****1234"


def test_mask_id_number() -> None:
    assert mask_id_number("34010419900307201X") == "3401**********201X"


def test_mask_credit_code() -> None:
    assert mask_credit_code("91350100M000100Y43") == "91************0Y43"


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        ("阿卜杜·热合曼", "阿******"),
        ("𠀾𪚥", "𠀾*"),  # one star per character, even outside the BMP
        ("张", "张"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize("mask", [mask_phone, mask_id_number, mask_credit_code])
def test_masks_never_reveal_short_values_whole(mask: Callable[[str], str]) -> None:
    for value in ("", "1", "123456"):
        masked = mask(value)
        assert masked == "*" * len(value)
