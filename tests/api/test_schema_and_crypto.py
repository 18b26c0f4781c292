"""Migrations match the models on both databases; SM4 field encryption and masks."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from command_server.core import crypto
from command_server.core.services import SERVICES
from command_server.models import include_object, metadata
from tests.conftest import Api


async def test_migrations_produce_exactly_the_models(api: Api) -> None:
    db = api.app[SERVICES].db

    def diff(conn):  # type: ignore[no-untyped-def]
        ctx = MigrationContext.configure(conn, opts={"compare_type": False, "include_object": include_object})
        return compare_metadata(ctx, metadata)

    async with db.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == [], f"models and migrations differ: {changes}"


def test_sm4_round_trip_is_randomised_and_authenticated() -> None:
    crypto.configure("00112233445566778899aabbccddeeff")
    a = crypto.encrypt("13812345678")
    b = crypto.encrypt("13812345678")
    assert a != b, "same plaintext must not give the same ciphertext"
    assert "13812345678" not in a
    assert crypto.decrypt(a) == "13812345678"
    tampered = a[:-4] + ("AAAA" if a[-4:] != "AAAA" else "BBBB")
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(tampered)
    # A different key cannot read it.
    crypto.configure("ffeeddccbbaa99887766554433221100")
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(a)


def test_blind_index_is_keyed_and_deterministic() -> None:
    crypto.configure("00112233445566778899aabbccddeeff")
    i1 = crypto.blind_index("13812345678")
    assert i1 == crypto.blind_index("13812345678")
    crypto.configure("ffeeddccbbaa99887766554433221100")
    assert crypto.blind_index("13812345678") != i1


def test_masks() -> None:
    assert crypto.mask_phone("138-1234-5678") == "138****5678"
    assert crypto.mask_phone("+86 13812345678") == "138****5678"
    assert crypto.mask_phone("021-62345678") == "021****5678"
    assert crypto.mask_phone("6234567") == "62*4567"
    assert crypto.mask_id_number("11010519491231002X") == "1101**********002X"
    assert crypto.normalize_phone("+86 138 1234 5678") == "13812345678"
