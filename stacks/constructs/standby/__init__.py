"""Pilot-light standby clusters (lambdas/standby/)."""
