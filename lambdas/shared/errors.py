"""Domain exceptions.

Their class names are the error names that Step Functions sees (a Lambda's errorType),
so state machines Retry and Catch on them directly: keep the names stable.
"""

from __future__ import annotations


class CloudHsmDrError(Exception):
    """Base of every error this project raises on purpose."""


class InvalidInput(CloudHsmDrError):
    """The caller's input is wrong; nothing was created or deleted."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class ClusterNotFound(CloudHsmDrError):
    """The cluster id does not exist in the region asked."""


class BackupNotFound(CloudHsmDrError):
    """The backup id does not exist, or no backup matches."""


class CloudHsmInvalidRequest(CloudHsmDrError):
    """CloudHSM refused the request as invalid in the resource's current state."""


class CloudHsmLimitExceeded(CloudHsmDrError):
    """A CloudHSM quota (clusters, HSMs per account or cluster) was hit."""


class CloudHsmAccessDenied(CloudHsmDrError):
    """The caller's IAM identity may not perform the action."""


class CloudHsmUnavailable(CloudHsmDrError):
    """CloudHSM failed internally or kept throttling after retries: retry later."""


class CloudHsmTagError(CloudHsmDrError):
    """A tag operation was rejected."""


# Errors every HSM-changing workflow (on-demand backup, replacement, restore, drill) shares.


class HsmTimeout(CloudHsmDrError):
    """An HSM stayed CREATE_IN_PROGRESS or DELETE_IN_PROGRESS past its timeout."""


class HsmCreationFailed(CloudHsmDrError):
    """Every HSM created for the step ended DEGRADED (bounded attempts)."""


class NotOwnedByThisRun(CloudHsmDrError):
    """A delete was refused: the HSM was not created by this execution."""


class KeyManifestNotFound(CloudHsmDrError):
    """No key manifest of the cluster was captured at or before the time asked."""


class HsmUnreachable(CloudHsmDrError):
    """No PKCS#11 session: the library did not load, or no slot or token answered."""


class HsmLoginFailed(CloudHsmDrError):
    """The HSM refused the verification crypto user's login."""


class KeyManifestCaptureFailed(CloudHsmDrError):
    """At least one cluster's key manifest could not be captured (the others were)."""


class ClusterBusy(Exception):  # the class name is the Step Functions error name
    """Another on-demand backup or HSM replacement holds this cluster."""


class NoQuotaHeadroom(Exception):  # the class name is the Step Functions error name
    """Adding an HSM would exceed the account's HSM quota in the region."""
