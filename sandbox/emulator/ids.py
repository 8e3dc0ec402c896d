"""Identifiers and ARNs in the shapes CloudHSM uses.

Real ids are a prefix plus 11 to 16 characters of ``[2-7a-zA-Z]``; the service
hands out 11 lower-case ones (``cluster-jxhlf7644ne``), so the emulator does too.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
ID_LENGTH = 11

CLUSTER_ID_RE = re.compile(r"^cluster-[2-7a-zA-Z]{11,16}$")
BACKUP_ID_RE = re.compile(r"^backup-[2-7a-zA-Z]{11,16}$")
HSM_ID_RE = re.compile(r"^hsm-[2-7a-zA-Z]{11,16}$")

# Same pattern as the botocore model's CloudHsmArn, anchored.
_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws(?:-us-gov)?):cloudhsm:"
    r"(?P<region>[a-z]{2}(?:-(?:gov|isob|iso))?-(?:east|west|north|south|central){1,2}-[0-9]):"
    r"(?P<account>[0-9]{12}):(?P<kind>backup|cluster|hsm)/(?P<resource_id>[a-z]+-[2-7a-zA-Z]{11,16})$"
)


class IdFactory:
    """Draws ids from one random generator so a seeded world is reproducible."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._issued: set[str] = set()

    def _draw(self, prefix: str) -> str:
        while True:
            suffix = "".join(self._rng.choice(ID_ALPHABET) for _ in range(ID_LENGTH))
            candidate = f"{prefix}-{suffix}"
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate

    def reserve(self, identifier: str) -> None:
        """Remember an id chosen by the caller (seeding) so it is never drawn again."""
        self._issued.add(identifier)

    def cluster_id(self) -> str:
        return self._draw("cluster")

    def backup_id(self) -> str:
        return self._draw("backup")

    def hsm_id(self) -> str:
        return self._draw("hsm")


def partition_for(region: str) -> str:
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def resource_arn(kind: str, region: str, account_id: str, resource_id: str) -> str:
    return f"arn:{partition_for(region)}:cloudhsm:{region}:{account_id}:{kind}/{resource_id}"


@dataclass(frozen=True)
class ParsedArn:
    partition: str
    region: str
    account_id: str
    kind: str
    resource_id: str


def parse_arn(value: str) -> ParsedArn | None:
    match = _ARN_RE.match(value)
    if match is None:
        return None
    return ParsedArn(
        partition=match["partition"],
        region=match["region"],
        account_id=match["account"],
        kind=match["kind"],
        resource_id=match["resource_id"],
    )
