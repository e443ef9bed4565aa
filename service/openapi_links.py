"""OpenAPI links between operations, so clients and stateful fuzzers can follow created resources.

A ``POST /v1/things`` that answers with a body holding ``id`` links to every operation on
``/v1/things/{thing_id}`` (and below it) with ``thing_id: $response.body#/id``; a few
cross-resource links are listed by hand (a schedule's jobs). The links are derived from the
routes FastAPI already documents, so a new resource gets its links without editing this file.
Schemathesis' stateful runs (``schema.as_state_machine()``) chain requests along them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

_METHODS = ("get", "put", "post", "patch", "delete")
_ITEM = re.compile(r"^\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}(?P<rest>(/.*)?)$")

#: Links the route layout cannot show: (source path, source method, target path, target method,
#: parameters of the target taken from the source's response).
EXTRA_LINKS: tuple[tuple[str, str, str, str, dict[str, str]], ...] = (
    ("/v1/schedules", "post", "/v1/jobs", "get", {"schedule_id": "$response.body#/id"}),
)


def _success(operation: dict[str, Any]) -> dict[str, Any] | None:
    """The operation's 2xx response with a JSON body, if it has one."""
    for code, response in sorted(operation.get("responses", {}).items()):
        if str(code).startswith("2") and "application/json" in response.get("content", {}):
            return response
    return None


def _add(response: dict[str, Any], target: dict[str, Any], parameters: dict[str, str]) -> None:
    op_id = target.get("operationId")
    if not op_id:
        return
    links = response.setdefault("links", {})
    links[op_id] = {
        "operationId": op_id,
        "parameters": parameters,
        "description": f"the resource this response created or listed: {op_id}",
    }


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    """Add ``links`` to the success responses of ``schema`` (in place) and return it."""
    paths: dict[str, dict[str, Any]] = schema.get("paths", {})
    for collection, ops in paths.items():
        create = ops.get("post")
        response = _success(create) if create else None
        if response is None:
            continue
        for path, target_ops in paths.items():
            if not path.startswith(collection + "/"):
                continue
            item = _ITEM.match(path[len(collection) + 1 :])
            if item is None or "{" in item.group("rest"):
                continue
            for method in _METHODS:
                if method in target_ops:
                    _add(response, target_ops[method], {item.group("name"): "$response.body#/id"})
    for source, method, target, target_method, parameters in EXTRA_LINKS:
        op = paths.get(source, {}).get(method)
        response = _success(op) if op else None
        target_op = paths.get(target, {}).get(target_method)
        if response is not None and target_op is not None:
            _add(response, target_op, parameters)
    return schema


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) return the document with its links."""
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(original())
        return app.openapi_schema

    # FastAPI's documented way to extend the schema is to replace the method on the instance
    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
