"""What every capability builds on: the CloudHSM gateway and models, errors, settings,
locks, execution reads, deadlines, backup and copy knowledge, findings, runbook names.
Imports nothing else from lambdas/.
"""
