"""The HTTP contract's rules and limits, as pydantic models that all three frameworks validate with.

openapi.yaml beside this file is the written contract; tests check that these models and every
framework's responses agree with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from blogcore import errors

TITLE_MAX_CHARS = 200
BODY_MAX_CHARS = 100_000
TAG_MAX_CHARS = 40
TAGS_MAX = 10
PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100
AI_TASKS = ("summarize", "sentiment", "title", "tags")

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX_CHARS)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=BODY_MAX_CHARS)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=TAG_MAX_CHARS)]


class _Strict(BaseModel):
    # Unknown fields are errors, and "1" is not an int: the contract names types exactly.
    model_config = ConfigDict(extra="forbid", strict=True)


class PostCreate(_Strict):
    title: Title
    body: Body
    tags: list[Tag] = Field(default_factory=list, max_length=TAGS_MAX)
    enrich: bool = False


class PostUpdate(_Strict):
    """PUT replaces the post's title, body and tags; stored AI results are kept unless enrich is asked for."""

    title: Title
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

    text: Annotated[str, StringConstraints(min_length=1, max_length=BODY_MAX_CHARS)] | None = None
    post_id: Annotated[int, Field(ge=1)] | None = None

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


class PostPage(BaseModel):
    items: list[PostOut]
    page: int
    page_size: int
    total: int


def parse_body(model: type[_Strict], raw: bytes | str) -> Any:
    """Validate a raw JSON body against a contract model, raising the contract's 400/422 errors."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise errors.from_validation_errors(exc.errors()) from None


def parse_query(model: type[BaseModel], params: dict[str, Any]) -> Any:
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise errors.from_validation_errors(exc.errors()) from None


def check_content_length(content_length: int | None, limit: int) -> None:
    if content_length is not None and content_length > limit:
        raise errors.PayloadTooLarge(f"request body is {content_length} bytes; the limit is {limit}")
