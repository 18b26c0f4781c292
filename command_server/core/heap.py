"""The garbage collector in a served process (the server, an offload worker): what it walks, and how often.

Two costs showed in the server's stall recorder under load (``system/loopwatch.py``, docs/performance.md):
- **What start-up built** — ORM mappers, the map index, caches, the demo city — lives as long as the process,
  yet every full collection walked it: ~185 ms with the demo city, the event loop stopped and every request in
  flight waiting. Frozen, those objects are still freed by reference counting; collections walk only what is
  allocated later.
- **How often a full collection runs.** A request in flight when a young collection runs survives it; its
  objects are promoted, and with the default thresholds (700, 10, 10) a busy server promoted enough of them to
  trigger a full collection 3–6 times a minute — 25–45 ms each, walking ~50,000 long-lived objects (asyncpg's
  prepared-statement caches above all). Collecting the middle generation ten times less often promotes far
  fewer of them: in a PostgreSQL load run, no full collection in a minute and 6 middle ones of ~3 ms
  (tenth round). Cyclic garbage that outlived a young collection waits longer to be freed: a few MB at most.
"""

from __future__ import annotations

import gc

THRESHOLDS = (700, 100, 10)


def settle_after_startup() -> None:
    """Freeze what start-up left alive and set the collector's thresholds (``Settings.gc_freeze``; off in the
    tests, which start hundreds of apps in one process)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
