"""Single-HSM failure (runbook 9.2.2): the scheduled health check, and the replacement
workflow that removes a failed HSM and adds one in its zone. Imports shared/ and
alerting/.
"""
