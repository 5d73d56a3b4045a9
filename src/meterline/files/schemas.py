"""FileStorageApi models, as the SDK has them."""

from __future__ import annotations

from meterline.core.schemas import ResponseModel


class FileDownloadUrlResponse(ResponseModel):
    download_url: str
