"""Validate response bodies against the schemas of services/blogcore/blogcore/openapi.yaml."""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx
import jsonschema
import yaml

from blogcore.contract import OPENAPI_PATH


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI_PATH.read_text())


@cache
def validator(schema_name: str) -> jsonschema.Draft202012Validator:
    # The document's components travel with the root schema so that "#/components/schemas/..." refs resolve.
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": spec()["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


def check(body: Any, schema_name: str) -> None:
    validator(schema_name).validate(body)


def response_schema(path_template: str, method: str, status: int) -> str | None:
    """The component schema name the contract gives this response, or None when it has no JSON body."""
    operation = spec()["paths"][path_template][method.lower()]
    response = operation["responses"].get(str(status))
    assert response is not None, f"{method} {path_template} may not answer {status} by openapi.yaml"
    if "$ref" in response:
        response = spec()["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    content = response.get("content", {}).get("application/json")
    if content is None:
        return None
    return content["schema"]["$ref"].rsplit("/", 1)[1]


def check_response(response: httpx.Response, path_template: str) -> Any:
    """Assert the response is one openapi.yaml allows for this operation; return its JSON body (or None)."""
    schema_name = response_schema(path_template, response.request.method, response.status_code)
    if schema_name is None:
        assert response.content == b"", "this response has no body by the contract"
        return None
    assert response.headers["content-type"].startswith("application/json"), response.headers["content-type"]
    body = response.json()
    check(body, schema_name)
    if schema_name == "Error":
        assert body["error"]["status"] == response.status_code
    return body
