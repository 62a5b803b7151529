"""The HTTP contract's rules and limits, as pydantic models that all three frameworks validate with.

openapi.yaml beside this file is the written contract; tests check that these models and every
framework's responses agree with it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError, from_json

from blogcore import errors
from blogcore.settings import APISettings

# The written contract, the single source of truth that these models and every framework must agree with.
OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")

TITLE_MAX_CHARS = 200
# The default of MAX_TEXT_CHARS, the longest post body or AI text, and the maxLength that openapi.yaml states.
BODY_MAX_CHARS = 100_000
TAG_MAX_CHARS = 40
TAGS_MAX = 10
PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100
# Ids are SQLite's signed 64-bit integers; a larger id can never exist.
MAX_POST_ID = 2**63 - 1
# The post_id path segment every framework's router accepts: at most as many digits as MAX_POST_ID, so a longer
# one is an unknown route (404) everywhere instead of reaching int() (which refuses over 4300 digits: a 500).
POST_ID_PATH_REGEX = "[0-9]{1,%d}" % len(str(MAX_POST_ID))

# What openapi.yaml requires of a title or a tag: one character that is not whitespace, whitespace being exactly
# what str.isspace() and str.strip() see. It is spelled out because "\\S" means slightly different sets to the
# regex engines that read the document (ECMA, Python, Rust's jsonschema-rs).
NOT_BLANK_PATTERN = r"[^\t-\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

_max_text_chars = BODY_MAX_CHARS


def configure(settings: APISettings) -> None:
    """Apply this service's MAX_TEXT_CHARS to every body and text validated from now on (once, at start-up)."""
    global _max_text_chars
    _max_text_chars = settings.max_text_chars


def _within_text_limit(value: str) -> str:
    if len(value) > _max_text_chars:
        raise PydanticCustomError(
            "string_too_long",
            "String should have at most {max_length} characters (MAX_TEXT_CHARS)",
            {"max_length": _max_text_chars},
        )
    return value


def _stripped_not_blank(value: str) -> str:
    # Lengths are checked on the string as sent, as openapi.yaml states them; "not blank" is its NOT_BLANK_PATTERN.
    stripped = value.strip()
    if not stripped:
        raise PydanticCustomError("string_blank", "String should contain a character that is not whitespace")
    return stripped


def _not_null(value: Any) -> Any:
    # An optional field may be left out, but null is not one of its types in openapi.yaml.
    if value is None:
        raise PydanticCustomError("not_null", "Input should not be null; leave the field out instead")
    return value


def _integral_number(value: Any) -> Any:
    # JSON Schema counts 5832.0 as an integer, so the contract does too; 1.5 still fails as strict ints do.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


PostTitle = Annotated[
    str, StringConstraints(min_length=1, max_length=TITLE_MAX_CHARS), AfterValidator(_stripped_not_blank)
]
Text = Annotated[str, StringConstraints(min_length=1), AfterValidator(_within_text_limit)]
Body = Text
Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=TAG_MAX_CHARS), AfterValidator(_stripped_not_blank),
    AfterValidator(str.lower),
]
PostId = Annotated[int, BeforeValidator(_integral_number), Field(ge=1, le=MAX_POST_ID)]


class _Strict(BaseModel):
    # Unknown fields are errors, and "1" is not an int: the contract names types exactly.
    model_config = ConfigDict(extra="forbid", strict=True)


class PostCreate(_Strict):
    title: PostTitle
    body: Body
    tags: list[Tag] = Field(default_factory=list, max_length=TAGS_MAX)
    enrich: bool = False


class PostUpdate(_Strict):
    """PUT replaces the post's title, body and tags; stored AI results are kept unless enrich is asked for."""

    title: PostTitle
    body: Body
    tags: list[Tag] = Field(default_factory=list, max_length=TAGS_MAX)
    enrich: bool = False


class PageQuery(BaseModel):
    # Query strings arrive as text, so these two are coerced (lax), unlike JSON bodies.
    model_config = ConfigDict(extra="ignore")

    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


class AIRequest(_Strict):
    """Either raw text or the id of a stored post, never both."""

    text: Annotated[Text | None, BeforeValidator(_not_null)] = None
    post_id: Annotated[PostId | None, BeforeValidator(_not_null)] = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> "AIRequest":
        if (self.text is None) == (self.post_id is None):
            raise ValueError("give exactly one of text or post_id")
        return self


class SentimentOut(BaseModel):
    stars: int = Field(ge=1, le=5)
    score: float = Field(ge=0, le=1)


class TagScore(BaseModel):
    tag: str
    score: float = Field(ge=0, le=1)


class PostAI(BaseModel):
    summary: str
    sentiment: SentimentOut
    suggested_title: str
    predicted_tags: list[TagScore]
    meta: dict[str, Any]


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    tags: list[str]
    ai: PostAI | None = None
    created_at: datetime
    updated_at: datetime


def parse_body(model: type[_Strict], raw: bytes | str) -> Any:
    """Validate a raw JSON body against a contract model, raising the contract's 400/422 errors."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise errors.from_validation_errors(exc.errors()) from None


def decode_json(raw: bytes) -> Any:
    """JSON text as parse_body reads it, for a framework that validates decoded objects (FastAPI).

    The same parser as model_validate_json, so every framework refuses the same bodies: JSON text must be UTF-8
    without a byte order mark (RFC 8259 8.1), and lone surrogates and nesting past its depth limit are malformed.
    Raises ValueError.
    """
    return from_json(raw)


def parse_query(model: type[BaseModel], params: dict[str, Any]) -> Any:
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise errors.from_validation_errors(exc.errors()) from None


def check_content_length(content_length: int | None, limit: int) -> None:
    if content_length is not None and content_length > limit:
        raise payload_too_large(f"request body is {content_length} bytes; the limit is {limit}")


def payload_too_large(message: str) -> errors.PayloadTooLarge:
    # The unread body is still on the connection, so the server must close it rather than parse it as a request.
    return errors.PayloadTooLarge(message, headers={"Connection": "close"})


def is_json_content_type(content_type: str | None) -> bool:
    """application/json or application/<anything>+json, parameters such as charset allowed (as FastAPI decides)."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    main, _, sub = media_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def require_json(content_type: str | None) -> None:
    """Bodies of JSON routes must say they are JSON: a missing or other Content-Type answers 415."""
    if not is_json_content_type(content_type):
        given = f"; got {content_type}" if content_type else "; none was given"
        raise errors.UnsupportedMediaType(f"Content-Type must be application/json{given}", field="Content-Type")


def parse_json_request(model: type[_Strict], raw: bytes, content_type: str | None) -> Any:
    """Check the media type, then parse and validate a JSON body: 415, 400 or 422 in that order."""
    require_json(content_type)
    if not raw:
        raise errors.MalformedJSON(errors.EMPTY_BODY_MESSAGE)
    return parse_body(model, raw)
