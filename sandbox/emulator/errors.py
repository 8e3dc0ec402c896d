"""The service's error types, raised by operations and turned into HTTP errors.

Names are the botocore model's exception shapes so ``client.exceptions.<Name>`` and
Step Functions' ``CloudHsmV2.<Name>`` both work.
"""

from __future__ import annotations


class CloudHsmError(Exception):
    """Base of every error the emulator returns to a client."""

    code = "CloudHsmServiceException"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CloudHsmAccessDeniedException(CloudHsmError):
    code = "CloudHsmAccessDeniedException"


class CloudHsmInternalFailureException(CloudHsmError):
    # The model marks it a server fault; a 5xx is what makes SDKs treat it as retryable.
    code = "CloudHsmInternalFailureException"
    status = 500


class CloudHsmInvalidRequestException(CloudHsmError):
    code = "CloudHsmInvalidRequestException"


class CloudHsmResourceLimitExceededException(CloudHsmError):
    code = "CloudHsmResourceLimitExceededException"


class CloudHsmResourceNotFoundException(CloudHsmError):
    code = "CloudHsmResourceNotFoundException"


class CloudHsmServiceException(CloudHsmError):
    code = "CloudHsmServiceException"


class CloudHsmTagException(CloudHsmError):
    code = "CloudHsmTagException"


class ThrottlingException(CloudHsmError):
    # Not in the model: the generic AWS throttling error, which botocore retries.
    code = "ThrottlingException"


ERROR_TYPES: tuple[type[CloudHsmError], ...] = (
    CloudHsmAccessDeniedException,
    CloudHsmInternalFailureException,
    CloudHsmInvalidRequestException,
    CloudHsmResourceLimitExceededException,
    CloudHsmResourceNotFoundException,
    CloudHsmServiceException,
    CloudHsmTagException,
)
