"""Run as a subprocess by the kill -9 test: records one camera continuously until killed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from media_gateway import MediaGateway  # noqa: E402


async def main(var_dir: str, url: str) -> None:
    gw = MediaGateway(Path(var_dir), segment_s=3600)
    await gw.start()
    await gw.configure_camera("cam", url, record_continuous=True)
    print("RECORDING", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
