"""Requests to the JSON and query APIs, checked against the service's API model (botocore's)
before a service sees them, as AWS's front ends check them.

moto trusts what it is sent: an operation the service does not have, a body that is not UTF-8 or
not a JSON object, a required member missing or one of the wrong JSON type made it fail (a 500
HTML page) where AWS answers 400: ``UnknownOperationException``, ``SerializationException``
("STRING_VALUE can not be converted to an Integer"), ``ValidationException`` or, for the query
protocol, ``InvalidAction`` and ``MissingParameter``. Nothing a valid request carries is checked
more strictly than the model says; members the model does not know are left alone.
"""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import parse_qsl

import botocore.session
from botocore.model import OperationModel, OperationNotFoundError, ServiceModel, Shape

from filepipe.local.adapter.policy import Refused

SERVED = ("sqs", "stepfunctions", "dynamodb", "logs", "events", "cognito-idp", "kms", "sts", "iam")
"""The JSON and query services the local cloud serves (moto's); S3, Lambda and Batch are not
checked here."""
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "structure": (dict,),
    "map": (dict,),
    "list": (list,),
    "string": (str,),
    "blob": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "timestamp": (int, float, str),
}
_MAX_DEPTH = 64


@functools.cache
def _models() -> dict[str, ServiceModel]:
    """The served services' models, by JSON target prefix and by signing name."""
    session = botocore.session.get_session()
    found: dict[str, ServiceModel] = {}
    for name in SERVED:
        model = session.get_service_model(name)
        found[model.signing_name] = model
        if model.metadata.get("targetPrefix"):
            found[model.metadata["targetPrefix"]] = model
    return found


def check_json(target: str, body: bytes) -> None:
    """A JSON-protocol request (``X-Amz-Target``); :class:`Refused` as AWS refuses it."""
    prefix, _, name = target.rpartition(".")
    model = _models().get(prefix)
    if model is None:
        return
    operation = _operation(model, name, "UnknownOperationException")
    try:
        value = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refused(400, "SerializationException", "the request body is not JSON in UTF-8") from None
    if not isinstance(value, dict):
        raise Refused(400, "SerializationException", "the request body must be a JSON object")
    _check_value(operation.input_shape, value, operation.name, 0)


def check_query(service: str, body: bytes) -> None:
    """A query-protocol request (a form, signed for ``service``); :class:`Refused` as AWS does."""
    model = _models().get(service)
    if model is None:
        return
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise Refused(400, "MalformedQueryString", "the request's form is not UTF-8") from None
    if not form.get("Action"):
        raise Refused(400, "MissingAction", "The request must contain the parameter Action")
    operation = _operation(model, form["Action"], "InvalidAction")
    shape = operation.input_shape
    for member in shape.required_members if shape is not None else []:
        if not any(key == member or key.startswith(f"{member}.") for key in form):
            raise Refused(400, "MissingParameter", f"The request must contain the parameter {member}")


def _operation(model: ServiceModel, name: str, code: str) -> OperationModel:
    try:
        return model.operation_model(name)
    except OperationNotFoundError:
        raise Refused(400, code, f"Could not find operation {name!r} for {model.service_name}") from None


def _check_value(shape: Shape | None, value: Any, where: str, depth: int) -> None:
    if shape is None or value is None:
        return
    if depth > _MAX_DEPTH:
        raise Refused(400, "SerializationException", f"{where} is nested too deeply")
    allowed = _JSON_TYPES.get(shape.type_name, (object,))
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        message = f"{where}: a {type(value).__name__} where a {shape.type_name} goes"
        raise Refused(400, "SerializationException", message)
    for name, item_shape, item in _parts(shape, value, where):
        _check_value(item_shape, item, name, depth + 1)


def _parts(shape: Shape, value: Any, where: str) -> list[tuple[str, Shape, Any]]:
    """A container's members, items or values, each with its shape (a structure's required
    members all there)."""
    if shape.type_name == "structure":
        missing = [m for m in shape.required_members if value.get(m) is None]
        if missing:
            raise Refused(
                400,
                "ValidationException",
                f"1 validation error detected: Value null at '{missing[0]}' failed to satisfy constraint: "
                "Member must not be null",
            )
        members = shape.members  # type: ignore[attr-defined]
        return [(f"{where}.{name}", members[name], item) for name, item in value.items() if name in members]
    if shape.type_name == "list":
        return [(f"{where}[{i}]", shape.member, item) for i, item in enumerate(value)]  # type: ignore[attr-defined]
    if shape.type_name == "map":
        return [(f"{where}.{key}", shape.value, item) for key, item in value.items()]  # type: ignore[attr-defined]
    return []
