"""What every HSM-creating workflow shares: the per-zone DEGRADED count, and adopting
the HSM of a create step whose response was lost."""

from __future__ import annotations

import pytest

from lambdas.shared.errors import HsmCreationFailed
from lambdas.shared.hsm_attempts import adoptable_hsm, check_attempts, degraded_in_zone
from tests.lambdas.factories import cluster, hsm


def test_the_count_is_per_zone() -> None:
    in_a_row = ["us-east-1a", "us-east-1a", "us-east-1b"]
    assert degraded_in_zone("us-east-1a", in_a_row) == 2
    assert degraded_in_zone("us-east-1c", in_a_row) == 0
    check_attempts("us-east-1b", in_a_row, max_attempts=2)  # one of two used
    with pytest.raises(HsmCreationFailed, match="2 HSMs in a row ended DEGRADED in us-east-1a"):
        check_attempts("us-east-1a", in_a_row, max_attempts=2)


def test_an_unrecorded_hsm_in_a_zone_of_the_step_is_adopted() -> None:
    # Given the HSMs the run started with, and one more nobody recorded (a lost response)
    start, lost = hsm("us-east-1a", n=1), hsm("us-east-1a", state="CREATE_IN_PROGRESS", n=7)
    c = cluster(start, hsm("us-east-1b", n=2), lost)
    known = {start.hsm_id, "hsm-abcdefghij2"}
    assert adoptable_hsm(c, known, ["us-east-1a"]) == lost
    # Not one the run knows, not one in another zone, not one already being deleted
    assert adoptable_hsm(c, {*known, lost.hsm_id}, ["us-east-1a"]) is None
    assert adoptable_hsm(c, known, ["us-east-1b"]) is None
    leaving = hsm("us-east-1a", state="DELETE_IN_PROGRESS", n=7)
    assert adoptable_hsm(cluster(start, leaving), known, ["us-east-1a"]) is None
