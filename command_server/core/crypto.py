"""Confidentiality of important stored data with Chinese commercial cryptography (NFR-3).

Phone and ID numbers are stored SM4-GCM encrypted (random nonce, authenticated); equality search goes
through a blind index (HMAC-SM3 under a key derived from the SM4 key), and display to roles without the
right goes through the masks below. The key comes from configuration (``ECS_SM4_KEY``) and is set once at
start by ``configure``.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as chmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

_PREFIX = "sm4g1:"
_state: dict[str, bytes] = {}


class CryptoError(ValueError):
    pass


def configure(sm4_key_hex: str) -> None:
    key = bytes.fromhex(sm4_key_hex)
    if len(key) != 16:
        raise CryptoError("SM4 key must be 128 bits")
    _state["enc"] = key
    _state["idx"] = _hmac_sm3(key, b"ecs blind index v1")


def _key(name: str) -> bytes:
    try:
        return _state[name]
    except KeyError:
        raise CryptoError("field encryption is not configured") from None


def _hmac_sm3(key: bytes, data: bytes) -> bytes:
    h = chmac.HMAC(key, hashes.SM3())
    h.update(data)
    return h.finalize()


def encrypt(plain: str) -> str:
    nonce = os.urandom(12)
    enc = Cipher(algorithms.SM4(_key("enc")), modes.GCM(nonce)).encryptor()
    ct = enc.update(plain.encode("utf-8")) + enc.finalize()
    return _PREFIX + base64.b64encode(nonce + ct + enc.tag).decode("ascii")


def decrypt(token: str) -> str:
    if not token.startswith(_PREFIX):
        raise CryptoError("not an SM4 field token")
    raw = base64.b64decode(token[len(_PREFIX):])
    nonce, ct, tag = raw[:12], raw[12:-16], raw[-16:]
    dec = Cipher(algorithms.SM4(_key("enc")), modes.GCM(nonce, tag)).decryptor()
    try:
        return (dec.update(ct) + dec.finalize()).decode("utf-8")
    except Exception as exc:  # InvalidTag: tampered or wrong key
        raise CryptoError("stored value failed authentication") from exc


def blind_index(value: str) -> str:
    """Deterministic keyed digest for exact-match lookups of an encrypted value."""
    return _hmac_sm3(_key("idx"), value.encode("utf-8")).hex()


def digest_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


class Encrypted(TypeDecorator[str]):
    """A text column whose value is SM4-GCM encrypted at rest, transparent to the model."""

    impl = String(255)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else decrypt(value)


_DIGITS = re.compile(r"\D")


def normalize_phone(phone: str) -> str:
    digits = _DIGITS.sub("", phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    d = normalize_phone(phone)
    if len(d) >= 11:
        return d[:3] + "****" + d[-4:]
    if len(d) >= 7:
        return d[:2] + "*" * (len(d) - 6) + d[-4:]
    return "*" * len(d)


def mask_id_number(value: str | None) -> str | None:
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]
