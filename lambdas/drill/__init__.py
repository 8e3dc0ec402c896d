"""Quarterly DR drills (runbook 9.3): plan, restore into an isolated cluster, verify the
keys, measure, tear down, report; the drill watcher; a stopped drill's teardown run.
Imports shared/ and alerting/.
"""
