"""Request and response models of CustomerPortalApi, field for field as the SDK has them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt

from meterline.core.schemas import ExternalId, RequestModel


class GetCustomerPortalDelegateTokenRequest(RequestModel):
    customer_id: ExternalId
    account_ids: Annotated[list[ExternalId], Field(max_length=100)] | None = None
    all_accounts_access: StrictBool | None = None
    expiry: StrictInt | None = None  # seconds; bounded by the service (portal/service.py)
