"""Run as a subprocess by the kill -9 tests: records one camera continuously until killed. Prints ``RECORDING``
and the pids of the gateway's worker processes (none with ``workers`` = 0)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from media_gateway import MediaGateway  # noqa: E402


async def main(var_dir: str, url: str, workers: int | None) -> None:
    gw = MediaGateway(Path(var_dir), segment_s=3600, workers=workers)
    await gw.start()
    await gw.configure_camera("cam", url, record_continuous=True)
    print("RECORDING", *gw.worker_pids(), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None))
