#!/usr/bin/env bash
# Check backup state, creation time and restorability of every protected cluster
# (the runbook's "Backup Verification"). A thin wrapper over `hsmdr backup verify`.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/backup/verify_backup.sh --config PATH [--cluster CLUSTER_ID]... [--json]

Read-only. For each protected cluster: the cluster is ACTIVE, its newest READY backup
is younger than the RPO and restorable into a cluster like it, no backup is stuck,
and its HSMs match the desired topology. Exit code 0 only when nothing is wrong.

  --config PATH        deployment config (YAML)
  --cluster ID         only this cluster (repeatable)
  --json               one JSON document instead of tables
Same as: hsmdr backup verify ...
USAGE
}

for arg in "$@"; do
  if [[ "$arg" == "-h" || "$arg" == "--help" ]]; then usage; exit 0; fi
done
[[ $# -gt 0 ]] || { usage >&2; exit 2; }
here="$(cd "$(dirname "$0")/../.." && pwd)"
hsmdr="${HSMDR:-$here/.venv/bin/hsmdr}"
command -v "$hsmdr" >/dev/null 2>&1 || hsmdr=hsmdr
exec "$hsmdr" backup verify "$@"
