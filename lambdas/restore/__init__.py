"""Full cluster restore (runbook 9.2.1): the request, the backup choice, the restore
claims, the plan, the job, the report and the client configuration. Imports shared/
and alerting/.
"""
