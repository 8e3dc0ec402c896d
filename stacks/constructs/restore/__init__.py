"""The full cluster restore workflow (lambdas/restore)."""
