"""The console's Features section (issue 21): the features list, "+ New Feature", a feature's page and its Edit form.
Thin handlers over the service the API uses (FeatureService, as `POST /features` and `PATCH /features/{id}`); the
form's translation (rows of picked schema attributes into `schemaAssociations`, refusals into words next to their
row) is console/entitlement_forms.py's.

A row is one pick from a list of every event schema's attributes (grouped by schema, the schemas another feature
reads marked), so no JavaScript is needed; "+ Add a schema" sends the form back with one row more, as typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import Response

from meterline.api.routing import UnitOfWorkRoute
from meterline.console import entitlement_forms as forms, feedback, listing
from meterline.console.account_forms import Refused
from meterline.console.account_pages import _url
from meterline.console.metering_pages import _all_schemas
from meterline.console.pages import PAGE, User, check_csrf, context, render
from meterline.core.errors import MeterlineError
from meterline.entitlements.feature_service import Association, FeatureService, FeatureView
from meterline.entitlements.reads import EntryReads
from meterline.entitlements.schemas import CreateFeatureRequest, UpdateFeatureRequest
from meterline.entitlements.values import NAMESPACE
from meterline.metering.models import EventSchema
from meterline.metering.schema_service import EventSchemaService
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
HOLDERS = 20  # accounts listed on a feature's page at most

FEATURES = listing.Spec(
    path="/features",
    columns={"name": listing.Column("Name"), "created": listing.Column("Created", descending_first=True)},
    default="name",
    noun=("feature", "features"),
    size=PAGE,
)


def reads_words(associations: list[Association]) -> str:
    """ "api_calls · calls, storage · gigabytes", or what a configuration feature is."""
    if not associations:
        return "nothing: a configuration feature"
    return ", ".join(f"{a.schema_name} · {a.attribute_name}" for a in associations)


@router.get("/features")
def features_page(request: Request, user: User, sort: str = "", page: str = "") -> Response:
    found = listing.Listing.read(FEATURES, sort=sort, page=page)
    rows: list[Any] = []
    pairs: dict[str, list[Association]] = {}
    if found.ok:
        counted, pairs = FeatureService(context(request, user)).listed(found.slice())
        found.found(counted)
        rows = counted.items
    return render(
        request,
        "features.html",
        user,
        status=200 if found.ok else 400,
        features=rows,
        pairs=pairs,
        list=found,
    )


# -- the form ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SchemaChoice:
    """An event schema in the rows' list: its attributes as (value, label), and the feature that reads it."""

    name: str
    status: str
    options: list[tuple[str, str]]
    reader: str | None  # the name of another feature that reads it


def _choices(ctx: Context, views: list[FeatureView], editing: str | None) -> list[SchemaChoice]:
    readers = {a.schema_name: v.feature for v in views for a in v.associations}
    out = []
    for schema in _all_schemas(EventSchemaService(ctx)):
        reader = readers.get(schema.name)
        out.append(
            SchemaChoice(
                schema.name,
                str(schema.status),
                [(forms.pair_value(schema.name, a), f"{schema.name} · {a}") for a in schema.attribute_names],
                reader.name if reader is not None and reader.pk != editing else None,
            )
        )
    return out


def _feature_form(
    request: Request,
    user: Any,
    form: forms.FeatureForm,
    errors: dict[str, str],
    *,
    view: FeatureView | None = None,
    status: int = 200,
) -> Response:
    ctx = context(request, user)
    choices = _choices(ctx, FeatureService(ctx).all(), view.feature.pk if view else None)
    known = {value for c in choices for value, _ in c.options}
    return render(
        request,
        "feature_form.html",
        user,
        status=status,
        form=form,
        errors=errors,
        view=view,
        choices=choices,
        known=known,
        max_rows=forms.MAX_ROWS,
    )


def _refusal(ctx: Context, exc: Exception, rows: list[int]) -> dict[str, str]:
    """A refusal of the feature form in words: pydantic's next to its field, the service's next to its row."""
    if isinstance(exc, Refused):
        return exc.errors
    if isinstance(exc, ValidationError):
        return forms.feature_validation_errors(exc, rows)
    if not isinstance(exc, MeterlineError):  # pragma: no cover - the callers catch only these three
        raise exc
    names = {v.feature.pk: v.feature.name for v in FeatureService(ctx).all()}
    return forms.feature_errors(exc.message, rows, names)


def _reads_notice(view: FeatureView) -> str:
    if not view.associations:
        return "it reads no event schema: a configuration feature, whose value comes from settings"
    return f"it reads {reads_words(view.associations)}"


@router.get("/features/new")
def new_feature_page(request: Request, user: User) -> Response:
    return _feature_form(request, user, forms.FeatureForm(), {})


@router.post("/features/new")
def new_feature(
    request: Request,
    user: User,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    billable_name: Annotated[str, Form()] = "",
    pair: Annotated[list[str], Form()] = [],  # noqa: B006
    action: Annotated[str, Form()] = "save",
) -> Response:
    check_csrf(user, csrf)
    form = forms.feature_form_of(name, billable_name, pair)
    if forms.grow_feature_form(form, action):
        return _feature_form(request, user, form, {})
    ctx = context(request, user)
    rows: list[int] = []
    savepoint = ctx.session.begin_nested()
    try:
        body, rows = forms.feature_body(form, editing=False)
        request_body = CreateFeatureRequest.model_validate(body)
        view = FeatureService(ctx).create(
            request_body.name, request_body.billable_name, [a.pair() for a in request_body.schema_associations]
        )
    except (Refused, ValidationError, MeterlineError) as exc:
        if isinstance(exc, MeterlineError) and exc.status_code >= 500:
            raise
        savepoint.rollback()
        return _feature_form(request, user, form, _refusal(ctx, exc, rows), status=400)
    savepoint.commit()
    return feedback.saved(
        request,
        _url("features", view.feature.pk),
        f"Feature “{view.feature.name}” created ({view.feature.pk}): {_reads_notice(view)}.",
    )


@router.get("/features/{feature_id}")
def feature_page(request: Request, user: User, feature_id: str) -> Response:
    ctx = context(request, user)
    view = FeatureService(ctx).get(feature_id)
    schemas: dict[str, EventSchema] = {s.name: s for s in _all_schemas(EventSchemaService(ctx))}
    holders, more = EntryReads(ctx).holders(view.feature, HOLDERS)
    return render(
        request,
        "feature.html",
        user,
        view=view,
        schemas=schemas,
        holders=holders,
        more_holders=more,
        namespace=NAMESPACE,
    )


@router.get("/features/{feature_id}/edit")
def edit_feature_page(request: Request, user: User, feature_id: str) -> Response:
    view = FeatureService(context(request, user)).get(feature_id)
    return _feature_form(request, user, forms.feature_form_from(view), {}, view=view)


@router.post("/features/{feature_id}/edit")
def edit_feature(
    request: Request,
    user: User,
    feature_id: str,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    billable_name: Annotated[str, Form()] = "",
    pair: Annotated[list[str], Form()] = [],  # noqa: B006
    action: Annotated[str, Form()] = "save",
) -> Response:
    """Name, billable name and the associations as a whole (as `PATCH /features/{id}` with every field)."""
    check_csrf(user, csrf)
    ctx = context(request, user)
    service = FeatureService(ctx)
    view = service.get(feature_id)
    form = forms.feature_form_of(name, billable_name, pair, had_billable_name=view.feature.billable_name is not None)
    if forms.grow_feature_form(form, action):
        return _feature_form(request, user, form, {}, view=view)
    rows: list[int] = []
    savepoint = ctx.session.begin_nested()
    try:
        body, rows = forms.feature_body(form, editing=True)
        request_body = UpdateFeatureRequest.model_validate(body)
        saved = service.update(
            view.feature.pk,
            name=request_body.name,
            billable_name=request_body.billable_name,
            associations=[a.pair() for a in request_body.schema_associations or []],
        )
    except (Refused, ValidationError, MeterlineError) as exc:
        if isinstance(exc, MeterlineError) and (exc.status_code >= 500 or exc.status_code == 404):
            raise
        savepoint.rollback()
        ctx.session.expire_all()  # the page shown again reads the feature as saved, not as the refused edit left it
        return _feature_form(request, user, form, _refusal(ctx, exc, rows), view=service.get(feature_id), status=400)
    savepoint.commit()
    return feedback.saved(
        request,
        _url("features", feature_id),
        f"Feature “{saved.feature.name}” saved: {_reads_notice(saved)}.",
    )
