"""The lock table: one on-demand backup or HSM replacement per cluster at a time."""

from __future__ import annotations

from constructs import Construct

from stacks.constructs.tables import expiring_table


class ClusterLocks(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # A lock whose holder died expires on its own.
        self.table = expiring_table(self, "Table", "cluster_id")
