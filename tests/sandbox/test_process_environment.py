"""The functions share the sandbox's process: copying its environment while an
invocation removes its variables must not fail (sandbox/lambda_dispatch.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import sandbox.lambda_dispatch  # noqa: F401  (installs the one-step copy)


class RemovedAfterListing(dict[bytes, bytes]):
    """Variables from which another thread removes one right after they were listed."""

    def __iter__(self) -> Iterator[bytes]:
        names = list(super().__iter__())
        super().pop(names[0])
        return iter(names)


def test_a_variable_removed_while_the_environment_is_copied_is_not_an_error() -> None:
    environ = os._Environ(  # type: ignore[attr-defined]
        RemovedAfterListing({b"POWERTOOLS_SERVICE_NAME": b"replace-hsm", b"PATH": b"/bin"}),
        os.environ.encodekey,  # type: ignore[attr-defined]
        os.environ.decodekey,  # type: ignore[attr-defined]
        os.environ.encodevalue,  # type: ignore[attr-defined]
        os.environ.decodevalue,  # type: ignore[attr-defined]
    )
    assert environ.copy() == {"POWERTOOLS_SERVICE_NAME": "replace-hsm", "PATH": "/bin"}
