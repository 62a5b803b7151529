"""blogcore.contract: body parsing order, media types, and agreement with openapi.yaml."""

from __future__ import annotations

import json
import re

import pytest

from api.openapi_check import check, spec
from blogcore import contract, errors
from blogcore.settings import APISettings


@pytest.mark.parametrize(
    ("content_type", "is_json"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/merge-patch+json", True),
        ("application/vnd.api+json ; q=1", True),
        ("text/json", False),
        ("text/plain", False),
        ("application/jsonp", False),
        ("multipart/form-data; boundary=x", False),
        ("", False),
        (None, False),
    ],
)
def test_json_media_types(content_type: str | None, is_json: bool) -> None:
    assert contract.is_json_content_type(content_type) is is_json


def test_media_type_is_checked_before_json() -> None:
    with pytest.raises(errors.UnsupportedMediaType):
        contract.parse_json_request(contract.PostCreate, b"{", "text/plain")
    with pytest.raises(errors.MalformedJSON):
        contract.parse_json_request(contract.PostCreate, b"{", "application/json")
    with pytest.raises(errors.MalformedJSON, match="empty"):
        contract.parse_json_request(contract.PostCreate, b"", "application/json")


def test_post_create_normalises_and_is_strict() -> None:
    post = contract.parse_body(contract.PostCreate, b'{"title": "  Hi ", "body": " b ", "tags": [" Py "]}')
    assert (post.title, post.body, post.tags, post.enrich) == ("Hi", " b ", ["py"], False)
    with pytest.raises(errors.ValidationFailed) as caught:
        contract.parse_body(contract.PostCreate, b'{"title": "t", "body": "b", "enrich": "yes"}')
    assert caught.value.field == "enrich"


@pytest.mark.parametrize(
    "raw",
    [b'{"text": "a", "post_id": 1}', b"{}", b'{"text": null, "post_id": null}', b'{"post_id": 9223372036854775808}'],
)
def test_ai_request_needs_exactly_one_source(raw: bytes) -> None:
    with pytest.raises(errors.ValidationFailed):
        contract.parse_body(contract.AIRequest, raw)


def test_page_query_coerces_query_text() -> None:
    query = contract.parse_query(contract.PageQuery, {"page": "3", "page_size": "10", "other": "x"})
    assert (query.page, query.page_size, query.offset) == (3, 10, 20)
    with pytest.raises(errors.ValidationFailed) as caught:
        contract.parse_query(contract.PageQuery, {"page_size": "101"})
    assert caught.value.field == "page_size"


def test_content_length_limit() -> None:
    contract.check_content_length(None, 1024)
    contract.check_content_length(1024, 1024)
    with pytest.raises(errors.PayloadTooLarge) as caught:
        contract.check_content_length(1025, 1024)
    assert caught.value.headers == {"Connection": "close"}


def test_openapi_limits_match_the_models() -> None:
    schemas = spec()["components"]["schemas"]
    create = schemas["PostCreate"]["properties"]
    assert set(create) == set(contract.PostCreate.model_fields)
    required = {name for name, field in contract.PostCreate.model_fields.items() if field.is_required()}
    assert set(schemas["PostCreate"]["required"]) == required
    assert create["title"]["maxLength"] == contract.TITLE_MAX_CHARS
    assert create["body"]["maxLength"] == contract.BODY_MAX_CHARS
    assert create["tags"]["maxItems"] == contract.TAGS_MAX
    assert create["tags"]["items"]["maxLength"] == contract.TAG_MAX_CHARS
    assert set(contract.PostUpdate.model_fields) == set(contract.PostCreate.model_fields)
    assert set(schemas["AIRequest"]["properties"]) == set(contract.AIRequest.model_fields)
    assert schemas["AIRequest"]["properties"]["post_id"]["maximum"] == contract.MAX_POST_ID
    page_size = next(p for p in spec()["paths"]["/posts"]["get"]["parameters"] if p["name"] == "page_size")
    assert page_size["schema"]["maximum"] == contract.PAGE_SIZE_MAX
    assert page_size["schema"]["default"] == contract.PAGE_SIZE_DEFAULT
    assert set(schemas["Post"]["properties"]) == set(contract.PostOut.model_fields)


def test_openapi_schemas_reject_what_the_models_reject() -> None:
    check({"text": "a"}, "AIRequest")
    for bad in ({"text": "a", "post_id": 1}, {}, {"text": "a", "x": 1}):
        with pytest.raises(Exception):
            check(bad, "AIRequest")
    with pytest.raises(Exception):
        check({"task": "tags", "tags": [], "meta": {"mode": "remote", "model": "m", "source": "synthetic",
               "synthetic_weights": True, "input_truncated": False, "max_input_tokens": 8}}, "TagsResponse")


# ---- the document and the models agree on the edges a fuzzer probes ------------------------------------------------

ALL_CHARACTERS = [chr(code) for code in range(0x110000) if not 0xD800 <= code < 0xE000]


def test_the_not_blank_pattern_is_the_documents_and_means_what_strip_means() -> None:
    create = spec()["components"]["schemas"]["PostCreate"]["properties"]
    assert create["title"]["pattern"] == create["tags"]["items"]["pattern"] == contract.NOT_BLANK_PATTERN
    # Python's re and the Rust engine schemathesis validates with must both read it as str.isspace() does.
    import jsonschema_rs

    pattern = re.compile(contract.NOT_BLANK_PATTERN)
    rust = jsonschema_rs.validator_for({"type": "string", "pattern": contract.NOT_BLANK_PATTERN})
    whitespace = {char for char in ALL_CHARACTERS if char.isspace()}
    assert {char for char in ALL_CHARACTERS if not pattern.search(char)} == whitespace
    assert {char for char in ALL_CHARACTERS if not rust.is_valid(char)} == whitespace


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"title": " \\u00a0\\u3000 ", "body": "b"}', "title"),
        (b'{"title": "t", "body": "b", "tags": ["a", "\\t"]}', "tags.1"),
        (b'{"title": "t", "body": null}', "body"),
        (b'{"title": "t", "body": "b", "tags": null}', "tags"),
        # Lengths are the document's: counted on the string as sent, before stripping.
        (b'{"title": " ' + b"x" * 200 + b'", "body": "b"}', "title"),
    ],
)
def test_posts_refuse_what_the_document_refuses(raw: bytes, field: str) -> None:
    assert_both_refuse(contract.PostCreate, raw, field)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"post_id": 1, "text": null}', "text"),
        (b'{"text": "a", "post_id": null}', "post_id"),
        (b'{"post_id": 1.5}', "post_id"),
        (b'{"post_id": true}', "post_id"),
        (b'{"post_id": 0.0}', "post_id"),
    ],
)
def test_ai_request_refuses_null_and_fractions(raw: bytes, field: str) -> None:
    assert_both_refuse(contract.AIRequest, raw, field)


def assert_both_refuse(model: type, raw: bytes, field: str) -> None:
    """The code refuses the body naming the field, and the document's schema of the same name refuses it too."""
    with pytest.raises(errors.ValidationFailed) as caught:
        contract.parse_body(model, raw)
    assert caught.value.field == field
    with pytest.raises(Exception):
        check(json.loads(raw), model.__name__)


def test_integral_numbers_are_integers_as_in_json_schema() -> None:
    check({"post_id": 5832.0}, "AIRequest")
    request = contract.parse_body(contract.AIRequest, b'{"post_id": 5832.0}')
    assert request.post_id == 5832 and type(request.post_id) is int


def test_max_text_chars_limits_bodies_and_ai_texts() -> None:
    contract.configure(APISettings(max_text_chars=10))
    try:
        assert contract.parse_body(contract.AIRequest, b'{"text": "0123456789"}').text == "0123456789"
        for model, raw, field in (
            (contract.AIRequest, b'{"text": "0123456789x"}', "text"),
            (contract.PostCreate, b'{"title": "t", "body": "0123456789x"}', "body"),
            (contract.PostUpdate, b'{"title": "t", "body": "0123456789x"}', "body"),
        ):
            with pytest.raises(errors.ValidationFailed, match="at most 10 characters \\(MAX_TEXT_CHARS\\)") as caught:
                contract.parse_body(model, raw)
            assert caught.value.field == field
    finally:
        contract.configure(APISettings())
    assert contract.parse_body(contract.AIRequest, b'{"text": "0123456789x"}').text == "0123456789x"
