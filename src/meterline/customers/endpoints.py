"""CustomersApi: thin routes over CustomerService."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from meterline.accounts.schemas import account_out
from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core.pagination import PageRequest
from meterline.core.schemas import BaseSuccessResponse, PaginationOptions
from meterline.customers import schemas
from meterline.customers.service import CustomerService
from meterline.tenancy.context import Context
from meterline.usecases.accounts import delete_customer as delete_customer_with_history

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Customers"])


@router.post(
    "/customers", status_code=201, response_model=schemas.CreateCustomerResponse, operation_id="createCustomer"
)
def create_customer(body: schemas.CreateCustomerRequest, ctx: Context = Depends(api_context)) -> Response:
    """Create a customer with its first account (the one in `account`, else a default one)."""
    service = CustomerService(ctx)
    created = service.create(body)
    account = account_out(service.accounts.view(created.account))
    return respond(schemas.created_customer_out(created.customer, account, service.settings_of(created.customer)), 201)


@router.get("/customers", response_model=schemas.CustomerPaginatedResponse, operation_id="getCustomers")
def get_customers(page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)) -> Response:
    result = CustomerService(ctx).page(page)
    return respond(
        schemas.CustomerPaginatedResponse(
            data=[schemas.customer_out(c) for c in result.items],
            next_token=result.next_token,
            context=PaginationOptions(page_size=result.size),
        )
    )


@router.get("/customers/{customer_id}", response_model=schemas.Customer, operation_id="getCustomer")
def get_customer(customer_id: str, ctx: Context = Depends(api_context)) -> Response:
    return respond(schemas.customer_out(CustomerService(ctx).get(customer_id)))


@router.patch("/customers/{customer_id}", response_model=schemas.Customer, operation_id="updateCustomer")
def update_customer(
    customer_id: str, body: schemas.UpdateCustomerRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Change name, email or address. The customer id never changes."""
    return respond(schemas.customer_out(CustomerService(ctx).update(customer_id, body)))


@router.delete("/customers/{customer_id}", response_model=BaseSuccessResponse, operation_id="deleteCustomer")
def delete_customer(customer_id: str, ctx: Context = Depends(api_context)) -> Response:
    """Remove the customer and its accounts; archive them instead when they have finalized invoices."""
    delete_customer_with_history(ctx, customer_id)
    return respond(BaseSuccessResponse(success=True))


@router.post(
    "/customers/{customer_id}/contacts",
    status_code=201,
    response_model=schemas.CreateCustomerContactResponse,
    operation_id="createCustomerContact",
)
def create_customer_contact(
    customer_id: str, body: schemas.CreateCustomerContactRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Add a contact (a person of the customer, for the customer portal)."""
    contact = CustomerService(ctx).create_contact(customer_id, body, created_by="api")
    return respond(schemas.contact_out(contact), 201)
