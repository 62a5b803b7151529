"""openapi.yaml itself: well-formed enough to be the contract every test validates against."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema

from api.openapi_check import spec
from blogcore.http_rules import ROUTE_METHODS, allowed_methods

METHODS = {"get", "put", "post", "delete", "patch"}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_every_ref_resolves() -> None:
    doc = spec()
    for ref in _refs(doc):
        assert ref.startswith("#/"), ref
        node: Any = doc
        for part in ref[2:].split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]


def test_every_schema_is_valid_json_schema() -> None:
    for schema in spec()["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_operation_documents_its_errors() -> None:
    doc = spec()
    assert doc["openapi"].startswith("3.1")
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            assert operation.get("operationId") and operation.get("summary"), (method, path)
            codes = set(operation["responses"])
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= codes, (method, path)
            if path.startswith("/ai/"):
                assert {"404", "429", "503", "504"} <= codes, (method, path)


def test_the_http_rules_know_each_routes_methods() -> None:
    """OPTIONS answers Allow from http_rules.ROUTE_METHODS: the document's methods, HEAD with GET, and OPTIONS."""
    documented = {path: {m.upper() for m in item if m in METHODS} for path, item in spec()["paths"].items()}
    assert {path: set(methods) for path, methods in ROUTE_METHODS.items()} == documented
    assert allowed_methods("/posts/12") == "GET, PUT, DELETE, HEAD, OPTIONS"
    assert allowed_methods("/ai/tags") == "POST, OPTIONS"
    assert allowed_methods("/posts/x") is None and allowed_methods("/nope") is None
