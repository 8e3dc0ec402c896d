"""MaxResults / NextToken handling shared by the paginated operations.

Tokens are opaque to clients: base64 of the operation name and an offset. A token from
another operation (or a made-up one) is refused like the service refuses bad tokens.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from sandbox.emulator.errors import CloudHsmInvalidRequestException

T = TypeVar("T")


def page(
    items: Sequence[T],
    params: dict[str, Any],
    *,
    operation: str,
    limit: int,
    default: int,
) -> tuple[list[T], str | None]:
    size = _max_results(params.get("MaxResults"), limit, default)
    start = _offset(params.get("NextToken"), operation)
    chunk = list(items[start : start + size])
    end = start + size
    token = _token(operation, end) if end < len(items) else None
    return chunk, token


def _max_results(raw: Any, limit: int, default: int) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= limit:
        raise CloudHsmInvalidRequestException(
            f"MaxResults must be an integer between 1 and {limit}, got {raw!r}"
        )
    return raw


def _token(operation: str, offset: int) -> str:
    payload = json.dumps({"op": operation, "offset": offset}).encode()
    return base64.urlsafe_b64encode(payload).decode()


def _offset(token: Any, operation: str) -> int:
    if token in (None, ""):
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset = decoded["offset"]
        if decoded["op"] != operation or not isinstance(offset, int) or offset < 0:
            raise ValueError(token)
    except (ValueError, KeyError, TypeError) as error:
        raise CloudHsmInvalidRequestException(f"Invalid NextToken: {token}") from error
    return offset
