"""Key-level verification of CloudHSM clusters over PKCS#11.

A backup is only as good as the keys a restore brings back. This package captures a
manifest of the keys (and users) of a production cluster, and checks a restored
cluster against the manifest of its time: every key present with the same
attributes and key check value (KCV), every user present, and a live crypto
operation with a designated canary key.

Layout (pure logic apart from I/O, as in every package of lambdas/):

- check_values.py   KCV definitions and the public key encoding they hash (pure)
- manifest.py       the manifest model, its JSON and its S3 object keys (pure)
- comparison.py     manifest vs what the HSM holds -> findings (pure)
- manifest_store.py manifests in S3, `manifest_for(cluster_id, at)`
- users.py          user listers (PKCS#11 cannot list users)
- hsm.py            PKCS#11 sessions, key inventory, canary test (python-pkcs11)
- verifier.py       capture and check, tying the above together
- client_setup.py   AWS only: configures the CloudHSM SDK 5 client at cold start
- settings.py       the function environment the stack writes

This is the only Lambda code that imports `pkcs11`: it ships in a container image
with AWS's CloudHSM PKCS#11 library (Dockerfile beside this file), not in the zip
asset the other functions share.
"""
