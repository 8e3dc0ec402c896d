"""Key verification: the container functions that capture key manifests and check
keys over PKCS#11 (lambdas/keycheck).
"""
