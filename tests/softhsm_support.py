"""SoftHSM2 for the tests that need a real PKCS#11 token.

Locally a missing SoftHSM2 skips those tests with the command that installs it; in CI
(CI=true) it fails them, so a CI machine without SoftHSM2 can never pass by skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from sandbox.softhsm import INSTALL_COMMAND, SOFTHSM_LIBRARY, softhsm_available
from sandbox.softhsm_keystore import SoftHsmKeyStore


def require_softhsm() -> None:
    if softhsm_available():
        return
    message = f"SoftHSM2 ({SOFTHSM_LIBRARY}, softhsm2-util) is missing: {INSTALL_COMMAND}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the PKCS#11 tests: {message}")
    pytest.skip(message)


@pytest.fixture
def softhsm() -> None:
    require_softhsm()


@pytest.fixture
def key_store(softhsm: None) -> Iterator[SoftHsmKeyStore]:
    with SoftHsmKeyStore.temporary() as store, store.environment():
        yield store
