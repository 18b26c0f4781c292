"""Start-up objects are frozen out of the garbage collector's reach and the middle generation is collected less
often (``core/heap.py``): a full collection walked them all, ~185 ms with the demo city, with the event loop
stopped, and in-flight requests promoted to the oldest generation triggered one every ~15 s under load."""

from __future__ import annotations

import gc

import pytest

from command_server.core.heap import THRESHOLDS
from tests.conftest import start_api


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("freeze", [True, False])
async def test_startup_objects_are_frozen(settings_factory, freeze: bool) -> None:  # type: ignore[no-untyped-def]
    gc.unfreeze()
    defaults = gc.get_threshold()
    assert defaults != THRESHOLDS
    api = await start_api(settings_factory(gc_freeze=freeze))
    try:
        if freeze:
            # everything alive after start-up (this process's too) left the generations a collection walks
            assert gc.get_freeze_count() > 10 * len(gc.get_objects())
            assert gc.get_threshold() == THRESHOLDS
        else:
            assert gc.get_freeze_count() == 0
            assert gc.get_threshold() == defaults
    finally:
        await api.client.close()
        gc.unfreeze()  # the other tests start apps unfrozen (tests/conftest.py)
        gc.set_threshold(*defaults)
