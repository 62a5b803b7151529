"""How the HTTP APIs answer an AI failure: each AIError kind's status, code and Retry-After, in one table.

The AI layer raises plain domain errors; the adapters' error handlers and the AI metrics read them through here.
The inference service says the same failures in gRPC codes instead and never imports this module.
"""

from __future__ import annotations

from blogcore import errors
from blogcore.ai.backend import (
    AIClientGone,
    AIDisabled,
    AIError,
    AIInvalidInput,
    AINotReady,
    AIOverloaded,
    AITimeout,
    AIUnavailable,
)

# Most specific kind first: the first row the error is an instance of answers it; AIError itself is the fallback.
HTTP_STATUS_AND_CODE: dict[type[AIError], tuple[int, str]] = {
    AIDisabled: (503, "ai_disabled"),
    AINotReady: (503, "ai_not_ready"),
    AIUnavailable: (503, "ai_unavailable"),
    AIOverloaded: (429, "ai_overloaded"),
    AITimeout: (504, "ai_timeout"),
    # nginx's "client closed request": nobody reads this answer, but logs and metrics tell it from a failure
    AIClientGone: (499, "client_closed_request"),
    AIInvalidInput: (400, "ai_invalid_input"),
    AIError: (503, "ai_error"),
}

# Every exception the adapters answer in the contract's error shape (anything else is an internal error).
ANSWERED_ERRORS: tuple[type[Exception], ...] = (errors.ApiError, AIError)


def http_error_for(exc: AIError) -> errors.ApiError:
    """The HTTP answer to an AI failure: its status and code, and Retry-After where a retry may succeed."""
    status, code = next(answer for kind, answer in HTTP_STATUS_AND_CODE.items() if isinstance(exc, kind))
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else None
    return errors.ApiError(exc.message, status=status, code=code, headers=headers)


def as_api_error(exc: errors.ApiError | AIError) -> errors.ApiError:
    """Either error the adapters answer, as the ApiError whose shape they send."""
    return http_error_for(exc) if isinstance(exc, AIError) else exc
