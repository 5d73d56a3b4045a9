"""FileStorageApi (`get_file`: 302 to a signed link; `get_download_url`), and the local store's signed link itself."""

from __future__ import annotations

import time
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import RedirectResponse, Response

from meterline.api.deps import api_context, session_of
from meterline.api.errors import error_response
from meterline.api.responses import respond
from meterline.api.routing import WritingRoute
from meterline.files import schemas, storage
from meterline.files.repository import file_for_link
from meterline.files.service import link_secret
from meterline.tenancy.context import Context
from meterline.usecases import invoice_files

router = APIRouter(route_class=WritingRoute, tags=["File Storage"])  # an invoice PDF is stored on first request
# The signed link: no API key (the signature is the credential), so it is mounted outside the API's authentication.
link_router = APIRouter(route_class=WritingRoute, tags=["File Storage"])  # an invoice PDF is stored on first request


def base_url(request: Request) -> str:
    """Where clients reach this server: `METERLINE_PUBLIC_URL`, else the request's own scheme and host."""
    configured: str = request.app.state.settings.public_url
    return configured.rstrip("/") if configured else str(request.base_url).removesuffix("/").removesuffix("/api")


@router.get("/files/{file_id}", status_code=302, response_class=Response, operation_id="getFile")
def get_file(file_id: str, request: Request, ctx: Context = Depends(api_context)) -> Response:
    """A redirect (302) to a signed link that downloads the file for an hour (a finalized invoice's PDF,
    `file.<invoice id>`, is generated and stored on its first request: usecases/invoice_files.py)."""
    url = invoice_files.download_url(ctx, file_id, storage.current(), expiry=None, base_url=base_url(request))
    return RedirectResponse(url, status_code=302)


@router.get(
    "/files/{file_id}/download_url", response_model=schemas.FileDownloadUrlResponse, operation_id="getDownloadUrl"
)
def get_download_url(
    file_id: str,
    request: Request,
    expiry: int | None = Query(None, description=f"seconds the link works: 1 to {storage.MAX_EXPIRY}, default 3600"),
    ctx: Context = Depends(api_context),
) -> Response:
    url = invoice_files.download_url(ctx, file_id, storage.current(), expiry=expiry, base_url=base_url(request))
    return respond(schemas.FileDownloadUrlResponse(download_url=url))


@link_router.get("/files/{file_id}/content", response_class=Response, include_in_schema=False)
def download_file(
    file_id: str, request: Request, expires: int = Query(...), signature: str = Query(..., max_length=128)
) -> Response:
    """The local store's signed link (what `get_file` redirects to): the file's bytes while the link's expiry is
    ahead and its signature is this file's and this expiry's; 403 otherwise."""
    store = storage.current()
    session = session_of(request)
    row = file_for_link(session, file_id)
    if not isinstance(store, storage.LocalStore) or row is None or row.store != store.name:
        return error_response(403, "This download link is invalid or has expired")
    if not storage.verify(link_secret(session, store), file_id, expires, signature, int(time.time())):
        return error_response(403, "This download link is invalid or has expired")
    try:
        data = store.read(row.key)
    except FileNotFoundError:
        return error_response(404, f"File {file_id} is missing from the store")
    disposition = f"attachment; filename*=UTF-8''{quote(row.name)}"
    return Response(
        data,
        media_type=row.content_type,
        headers={"Content-Disposition": disposition, "Cache-Control": "private, no-store"},
    )
