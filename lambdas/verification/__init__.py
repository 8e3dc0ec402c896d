"""Scheduled backup verification (runbook 9.1.2): every protected cluster's state,
HSMs, newest backup against the RPO, and its copies. Imports shared/ and alerting/.
"""
