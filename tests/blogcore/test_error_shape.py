"""blogcore.errors: the one error shape and how validation errors become it."""

from __future__ import annotations

import json

import pytest

from blogcore import errors
from blogcore.ai.backend import AIDisabled, AIOverloaded
from blogcore.ai_errors_http import http_error_for


def test_error_body_shape() -> None:
    exc = errors.ValidationFailed("title: too long", field="title")
    expected = {"status": 422, "code": "validation_error", "message": "title: too long", "field": "title"}
    assert exc.body() == {"error": expected}


def test_overloaded_says_when_to_retry() -> None:
    answer = http_error_for(AIOverloaded("queue full", retry_after_s=3))
    assert (answer.status, answer.code, answer.headers) == (429, "ai_overloaded", {"Retry-After": "3"})
    assert http_error_for(AIDisabled("off")).status == 503


@pytest.mark.parametrize(
    ("error", "located", "status", "code", "field"),
    [
        ({"type": "json_invalid", "loc": ("body", 3), "msg": "JSON decode error"}, True, 400, "malformed_json", None),
        ({"type": "missing", "loc": ("body",), "msg": "Field required"}, True, 400, "malformed_json", None),
        ({"type": "missing", "loc": ("body",), "msg": "Field required"}, False, 422, "validation_error", "body"),
        ({"type": "missing", "loc": ("body", "body"), "msg": "Field required"}, True, 422, "validation_error", "body"),
        ({"type": "string_type", "loc": ("body", "tags", 0), "msg": "bad"}, True, 422, "validation_error", "tags.0"),
        ({"type": "int_parsing", "loc": ("query", "page"), "msg": "bad"}, True, 422, "validation_error", "page"),
        ({"type": "model_type", "loc": (), "msg": "Input should be an object"}, False, 422, "validation_error", None),
        ({"type": "model_attributes_type", "loc": ("body",), "msg": "x"}, True, 422, "validation_error", None),
        ({"type": "value_error", "loc": (), "msg": "give exactly one"}, False, 422, "validation_error", None),
    ],
)
def test_from_validation_errors(error: dict, located: bool, status: int, code: str, field: str | None) -> None:
    exc = errors.from_validation_errors([error], located=located)
    assert (exc.status, exc.code, exc.field) == (status, code, field)


def test_non_object_message_is_stable() -> None:
    exc = errors.from_validation_errors([{"type": "model_type", "loc": (), "msg": "pydantic's wording"}])
    assert exc.message == errors.NOT_AN_OBJECT_MESSAGE


def test_field_message_names_the_field() -> None:
    error = {"type": "string_type", "loc": ("title",), "msg": "Input should be a valid string"}
    exc = errors.from_validation_errors([error])
    assert exc.message == "title: Input should be a valid string"


def test_no_errors_still_an_error() -> None:
    assert errors.from_validation_errors([]).status == 422


def test_type_errors_use_the_json_wording_whatever_pydantic_validated() -> None:
    from pydantic import ValidationError

    from blogcore import contract

    raw = b'{"title": "t", "body": "b", "tags": "x"}'
    worded = []
    for validate in (lambda: contract.PostCreate.model_validate_json(raw),
                     lambda: contract.PostCreate.model_validate(json.loads(raw))):
        with pytest.raises(ValidationError) as caught:
            validate()
        worded.append(errors.from_validation_errors(caught.value.errors()).message)
    assert worded == ["tags: Input should be a valid array"] * 2
