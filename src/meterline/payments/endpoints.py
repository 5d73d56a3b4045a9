"""PaymentsApi: thin routes over PaymentService."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core.errors import NotFound
from meterline.core.pagination import PageRequest
from meterline.payments import schemas
from meterline.payments.service import PaymentService
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Payments"])


@router.post("/payments", response_model=schemas.PaymentOut, status_code=201, operation_id="createPayments")
def create_payments(body: schemas.CreatePaymentRequest, ctx: Context = Depends(api_context)) -> Response:
    """Record a payment and spread it over the account's invoices (PAID or PARTIALLY_PAID)."""
    payment = PaymentService(ctx).create(body)
    return respond(schemas.payment_out(payment, body.account_id), 201)


@router.get("/payments/{payment_id}", response_model=schemas.PaymentOut, operation_id="getPayment")
def get_payment(
    payment_id: str, version: Annotated[int | None, Query(ge=1)] = None, ctx: Context = Depends(api_context)
) -> Response:
    service = PaymentService(ctx)
    payment = service.get(payment_id)
    if version is not None and version != payment.version:
        raise NotFound(f"Payment {payment_id} has no version {version}")
    return respond(schemas.payment_out(payment, service.account_ids([payment])[payment.account_pk]))


@router.get("/payments", response_model=schemas.ListPaymentResponse, operation_id="listPayments")
def list_payments(page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)) -> Response:
    service = PaymentService(ctx)
    result = service.page(page)
    ids = service.account_ids(result.items)
    return respond(
        schemas.ListPaymentResponse(
            data=[schemas.payment_out(p, ids[p.account_pk]) for p in result.items], next_token=result.next_token
        )
    )
