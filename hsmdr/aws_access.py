"""What the operator is told when AWS cannot be reached or refuses them: one line that
names the cause and what to do (AWS_PROFILE, `aws sso login`), and the exit code.

3 is every failure to reach AWS or to be let in: no credentials, an expired SSO session
or token, access denied, unrecognised credentials, no connection. Any other error AWS
returns (a throttled call, a bad request) is 1, as a failed run.
"""

from __future__ import annotations

import os
import re

ACCESS = 3
FAILED = 1

# Error codes AWS services return for a caller that is known but not allowed.
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "AuthorizationErrorException",
        "Forbidden",
    }
)
# ... for credentials that have expired, and for credentials AWS does not recognise.
EXPIRED_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
)
UNRECOGNISED_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "AuthFailure",
        "IncompleteSignature",
    }
)


def aws_failure(error: BaseException) -> tuple[int, str] | None:
    """(exit code, one line for the operator) when `error` comes from AWS or botocore,
    else None."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(error, ClientError):
        return _client_error(error)
    if isinstance(error, BotoCoreError):
        return ACCESS, _one_line(_botocore_error(error))
    return None


def _profile() -> str:
    return os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE") or ""


def _sso_login() -> str:
    profile = _profile()
    return f"aws sso login --profile {profile}" if profile else "aws sso login --profile NAME"


def _botocore_error(error: Exception) -> str:
    from botocore import exceptions as e

    profile = _profile()
    who = f" (AWS_PROFILE={profile})" if profile else ""
    # The first row whose exceptions match says what happened and what to do.
    rows: list[tuple[tuple[type[Exception], ...], str]] = [
        (
            (e.NoCredentialsError, e.PartialCredentialsError, e.NoAuthTokenError),
            f"AWS: no credentials found{who}: set AWS_PROFILE to a profile of the "
            "deployment's account (run `aws sso login --profile NAME` first if it uses SSO) "
            "or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then run this again",
        ),
        (
            (e.TokenRetrievalError, e.SSOError),
            f"AWS: the SSO session{who} has expired or was never started: run "
            f"`{_sso_login()}`, then run this again ({error})",
        ),
        (
            (e.ProfileNotFound,),
            f"AWS: profile {profile or '?'} is not in your AWS config: set AWS_PROFILE to "
            "one that is (`aws configure list-profiles`)",
        ),
        (
            (e.CredentialRetrievalError,),
            f"AWS: could not get credentials{who} ({error}): refresh them "
            f"(`{_sso_login()}`, or the profile's credential_process) and run this again",
        ),
        (
            (e.NoRegionError,),
            "AWS: no region: set AWS_REGION (or the region of your AWS_PROFILE) to the "
            "deployment's region",
        ),
        (
            (e.ConnectionError, e.HTTPClientError),
            f"AWS: cannot reach the service ({error}): check the network (VPN, proxy, "
            "HTTPS_PROXY) and the region, then run this again",
        ),
    ]
    return next((line for kinds, line in rows if isinstance(error, kinds)), f"AWS: {error}")


def _client_error(error: Exception) -> tuple[int, str]:
    response = getattr(error, "response", {}) or {}
    details = response.get("Error", {}) or {}
    code = str(details.get("Code", ""))
    aws_message = str(details.get("Message", "")).strip() or code
    operation = getattr(error, "operation_name", "") or "the call"
    profile = _profile()
    who = f" (AWS_PROFILE={profile})" if profile else ""
    if code in EXPIRED_CODES:
        line = (
            f"AWS: the credentials{who} have expired ({code} on {operation}): run "
            f"`{_sso_login()}` or get new temporary credentials, then run this again"
        )
        return ACCESS, _one_line(line)
    if code in UNRECOGNISED_CODES:
        line = (
            f"AWS does not recognise the credentials{who} ({code} on {operation}): they "
            "are wrong, revoked or from another account or partition: set AWS_PROFILE to "
            "a profile of the deployment's account"
        )
        return ACCESS, _one_line(line)
    if code in DENIED_CODES or "AccessDenied" in code:
        line = (
            f"AWS denied {operation}{who}: {aws_message}. Use credentials allowed to call "
            "it (AWS_PROFILE=<a role with the hsmdr operator permissions, docs/cli.md>)"
        )
        return ACCESS, _one_line(line)
    return FAILED, _one_line(f"AWS: {operation} failed: {code}: {aws_message}")


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
