"""Every number and flag a request model accepts is strict: JSON `true` is not the integer 1, `1` is not true, and
"5" is not 5 (pydantic's lax mode would take all three). Checked over every RequestModel of the code, so a new
field cannot forget it."""

from __future__ import annotations

import importlib
import pkgutil
import typing
from collections.abc import Iterator

import meterline
from meterline.core.schemas import RequestModel


def request_models() -> Iterator[type[RequestModel]]:
    for module in pkgutil.walk_packages(meterline.__path__, "meterline."):
        # the command line runs when imported; the migrations run inside alembic only
        if not module.name.endswith(("__main__", ".cli")) and ".migrations" not in module.name:
            importlib.import_module(module.name)
    todo = list(RequestModel.__subclasses__())
    while todo:
        model = todo.pop()
        todo += model.__subclasses__()
        yield model


def lax_fields() -> list[str]:
    found = []
    for model in request_models():
        for name, field in model.model_fields.items():
            kinds = typing.get_args(field.annotation) or (field.annotation,)
            strict = any(getattr(m, "strict", None) for m in field.metadata)
            if any(kind in (int, bool, float) for kind in kinds) and not strict:
                found.append(f"{model.__module__}.{model.__name__}.{name}: {field.annotation}")
    return found


def test_every_number_and_flag_of_a_request_is_strict() -> None:
    assert len(list(request_models())) > 50  # every domain's models were found
    assert lax_fields() == [], "use StrictInt / StrictBool (and Decimal, never float, for amounts)"
