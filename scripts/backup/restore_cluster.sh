#!/usr/bin/env bash
# Restore a lost CloudHSM cluster from a backup (the runbook's 9.2.1, complete cluster failure).
# A thin wrapper over `hsmdr restore --follow`: identifies the latest valid backup, creates
# a new cluster from it, brings it into service, publishes the client configuration and
# verifies it, then adds HSMs until the cluster is highly available again.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/backup/restore_cluster.sh --config PATH (--source-cluster ID | --backup-id ID)
                                         [--region R] [--restore-id ID] [--json]

Runs the deployment's restore-cluster workflow and follows it live. A cluster restored
from a backup is ACTIVE without initialization; the workflow then creates HSMs one at
a time, publishes the new cluster id and HSM IPs to SSM, alerts when service is back
and again at the end (RPO, RTO, next steps). On failure it alerts and deletes nothing.

  --config PATH          deployment config (YAML)
  --source-cluster ID    restore the latest READY backup of this cluster (copies count)
  --backup-id ID         restore this backup (or its READY copy in the target region)
  --region R             where to restore (default: the config's region; a DR region
                         for a regional disaster)
  --restore-id ID        idempotency key: the same id resumes instead of starting again
  --json                 one JSON document instead of tables
Same as: hsmdr restore --follow ...  (see hsmdr restore --help for every option)
USAGE
}

for arg in "$@"; do
  if [[ "$arg" == "-h" || "$arg" == "--help" ]]; then usage; exit 0; fi
done
[[ $# -gt 0 ]] || { usage >&2; exit 2; }
here="$(cd "$(dirname "$0")/../.." && pwd)"
hsmdr="${HSMDR:-$here/.venv/bin/hsmdr}"
command -v "$hsmdr" >/dev/null 2>&1 || hsmdr=hsmdr
exec "$hsmdr" restore --follow "$@"
