"""The scheduled backup verification (lambdas/verification)."""
