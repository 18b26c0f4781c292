from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class FileOut(BaseModel):
    id: int
    sha256: str
    size: int
    content_type: str
    filename: str
    created_at: dt.datetime
    url: str
