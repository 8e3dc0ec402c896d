"""The on-demand backup workflow, the backup copy job and the DR-region copy monitor
(lambdas/backups).
"""
