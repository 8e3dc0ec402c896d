"""Pilot-light standby clusters: the DR region's scheduled refresher (docs/runbooks/standby.md)."""
