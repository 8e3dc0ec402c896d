"""What pages and what is watched: the alert topics and keys, scheduled jobs and state
machines with their alarms, stopped-execution rules, the project's metrics and the
dashboard.
"""
