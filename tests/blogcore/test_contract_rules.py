"""blogcore.contract: body parsing order, media types, and agreement with openapi.yaml."""

from __future__ import annotations

import pytest

from api.openapi_check import check, spec
from blogcore import contract, errors


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
