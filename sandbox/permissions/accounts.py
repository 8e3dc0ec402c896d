"""Which emulated account each call is made in.

moto names the caller's account from the request (the `x-moto-account-id` header
before the credentials). Every call is made in the account of whoever makes it: the
principal set around a Lambda handler, an execution or a delivery (its role's account,
or the account a service principal acts in); otherwise the account set with
`in_account` (the sandbox's own calls for a stack of another account); otherwise moto's
default account, as before there were several.

A client bound to an account (`bind_client`, a deployment's own clients) calls in that
account unless a principal is set: principal, then bound client, then `in_account`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any, Final

from sandbox.permissions.enforcer import current_principal

ACCOUNT_HEADER: Final = "x-moto-account-id"
_BOUND: Final = "sandbox-bound-account"
_ACCOUNT: Final[ContextVar[str | None]] = ContextVar("sandbox_account", default=None)


@contextmanager
def in_account(account: str | None) -> Iterator[None]:
    """Calls made inside (without a principal of their own) are made in `account`."""
    token = _ACCOUNT.set(account)
    try:
        yield
    finally:
        _ACCOUNT.reset(token)


def calling_account() -> str | None:
    """The account the next call is made in, or None for moto's default."""
    principal = current_principal()
    if principal is not None:
        return principal.account
    return _ACCOUNT.get()


def bind_client(client: Any, account: str) -> Any:
    """Make `client` call in `account` unless a principal is set (whatever
    `in_account` says). A client is bound once: binding it again keeps its first."""
    client.meta.events.register(
        "request-created", partial(_bound_account, account), unique_id=_BOUND
    )
    return client


def _add_account_header(request: Any, **_: Any) -> None:
    account = calling_account()
    if account is not None:
        _set_header(request, account)


def _bound_account(account: str, request: Any, **_: Any) -> None:
    # Runs after the built-in hook: a principal's account stays, in_account's does not.
    if current_principal() is None:
        _set_header(request, account)


def _set_header(request: Any, account: str) -> None:
    # botocore's headers keep every value assigned to a name: drop the earlier one.
    if ACCOUNT_HEADER in request.headers:
        del request.headers[ACCOUNT_HEADER]
    request.headers[ACCOUNT_HEADER] = account


def _install_hook() -> None:
    from botocore.handlers import BUILTIN_HANDLERS

    entry = ("request-created", _add_account_header)
    if entry not in BUILTIN_HANDLERS:
        BUILTIN_HANDLERS.append(entry)


_install_hook()  # clients created from now on carry the hook
