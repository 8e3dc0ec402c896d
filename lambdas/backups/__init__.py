"""Backups made and kept: the on-demand backup workflow (a temporary HSM), the copy job
that copies backups to the DR regions and prunes them, golden backups, and the copy
monitor that runs in each DR region. Imports shared/ and alerting/.
"""
