"""The scheduled health check and the HSM replacement workflow (lambdas/replacement)."""
