"""Start-up objects are frozen out of the garbage collector's reach (``app.freeze_startup_objects``): a full
collection walked them all, ~185 ms with the demo city, with the event loop stopped."""

from __future__ import annotations

import gc

import pytest

from tests.conftest import start_api


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("freeze", [True, False])
async def test_startup_objects_are_frozen(settings_factory, freeze: bool) -> None:  # type: ignore[no-untyped-def]
    gc.unfreeze()
    api = await start_api(settings_factory(gc_freeze=freeze))
    try:
        if freeze:
            # everything alive after start-up (this process's too) left the generations a collection walks
            assert gc.get_freeze_count() > 10 * len(gc.get_objects())
        else:
            assert gc.get_freeze_count() == 0
    finally:
        await api.client.close()
        gc.unfreeze()  # the other tests start apps unfrozen (tests/conftest.py)
