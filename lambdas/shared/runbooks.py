"""Where each alert sends a person: the runbooks under docs/runbooks/, and which one
covers each verification finding. Alarm descriptions (stacks/) use the same paths.

Texts are written with relative runbook paths and `--config <deployment config>`;
`for_reader` turns them into what the person paged can use as is: links under the
config's `docs_url` (when set) and `--deployment NAME`. The stacks apply it to alarm
descriptions and state machine definitions at synth; the functions, to what they
word, with the values the stack put in their environment (`from_environment`)."""

from __future__ import annotations

import os
import re

from lambdas.shared.env import Env

COMPLETE_CLUSTER_FAILURE = "docs/runbooks/complete-cluster-failure.md"
SINGLE_HSM_FAILURE = "docs/runbooks/single-hsm-failure.md"
DR_DRILL = "docs/runbooks/dr-drill.md"
ON_DEMAND_BACKUP = "docs/runbooks/on-demand-backup.md"
COPY_FAILURE = "docs/runbooks/copy-failure.md"
STANDBY = "docs/runbooks/standby.md"
VAULT = "docs/runbooks/vault.md"

ALL = (
    COMPLETE_CLUSTER_FAILURE,
    SINGLE_HSM_FAILURE,
    DR_DRILL,
    ON_DEMAND_BACKUP,
    COPY_FAILURE,
    STANDBY,
    VAULT,
)

# Finding code -> the runbook whose table explains it. Keyed by the code's string so
# this module stays free of the verification model (no import cycle).
FINDING_RUNBOOKS = {
    "CLUSTER_NOT_FOUND": COMPLETE_CLUSTER_FAILURE,
    "CLUSTER_NOT_ACTIVE": COMPLETE_CLUSTER_FAILURE,
    "CLUSTER_DRIFT": SINGLE_HSM_FAILURE,
    "NO_READY_BACKUP": ON_DEMAND_BACKUP,
    "BACKUP_OLDER_THAN_RPO": ON_DEMAND_BACKUP,
    "BACKUP_STUCK": ON_DEMAND_BACKUP,
    "BACKUP_NOT_RESTORABLE": ON_DEMAND_BACKUP,
    "HSM_DEGRADED": SINGLE_HSM_FAILURE,
    "HSM_COUNT_BELOW_DESIRED": SINGLE_HSM_FAILURE,
    "HSM_IN_UNPLANNED_AZ": SINGLE_HSM_FAILURE,
    "COPY_FAILED": COPY_FAILURE,
    "COPY_STUCK": COPY_FAILURE,
    "COPY_MISSING": COPY_FAILURE,
    "RETENTION_DRIFT": COPY_FAILURE,
    "COPY_JOB_ERROR": COPY_FAILURE,
    "STANDBY_MISSING": STANDBY,
    "STANDBY_STALE": STANDBY,
    "STANDBY_HOLDS_HSM": STANDBY,
    "STANDBY_DEGRADED": STANDBY,
    "STANDBY_NO_HSM": STANDBY,
    "STANDBY_KEYS_MISMATCH": STANDBY,
    "STANDBY_KEYS_UNCHECKED": STANDBY,
    "VAULT_EMPTY": VAULT,
    "VAULT_STALE": VAULT,
    "VAULT_REFRESH_FAILED": VAULT,
    "PRODUCTION_SILENT": VAULT,
    "VAULT_HOLDS_HSM": VAULT,
    "VAULT_KEYS_CHANGED": VAULT,
    "VAULT_KEYS_NOT_CAPTURED": VAULT,
}


def for_finding(code: str) -> str:
    return FINDING_RUNBOOKS[code]


# A runbook reference: a relative path, with an anchor or not.
RELATIVE_REFERENCE = re.compile(r"(?<![\w/.:-])docs/runbooks/[a-z0-9-]+\.md(?:#[a-z0-9-]+)?")
# The ways texts stand for the deployment's config file.
CONFIG_PLACEHOLDER = re.compile(r"--config (?:<deployment\s+config>|<config>|PATH)")


def for_reader(text: str, *, docs_url: str | None, deployment: str | None) -> str:
    """`text` with each relative runbook reference made a link under `docs_url` and each
    `--config <deployment config>` made `--deployment <deployment>` (unchanged where the
    value is None or empty)."""
    if docs_url:
        base = docs_url.rstrip("/")
        text = RELATIVE_REFERENCE.sub(lambda found: f"{base}/{found.group(0)}", text)
    if deployment:
        text = CONFIG_PLACEHOLDER.sub(f"--deployment {deployment}", text)
    return text


def from_environment(text: str) -> str:
    """`for_reader` with the docs URL and the deployment name the stack gave this function."""
    return for_reader(
        text,
        docs_url=os.environ.get(Env.DOCS_URL),
        deployment=os.environ.get(Env.DEPLOYMENT_NAME),
    )
