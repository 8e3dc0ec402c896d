"""The DR drill workflow and the drill watcher (lambdas/drill)."""
