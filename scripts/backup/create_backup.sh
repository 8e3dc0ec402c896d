#!/usr/bin/env bash
# Force a CloudHSM backup now (the runbook's "Manual Backup Creation").
# A thin wrapper over `hsmdr backup create`: creates the backup, verifies it, displays it.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/backup/create_backup.sh --config PATH --cluster CLUSTER_ID [--strategy S] [--json]

CloudHSM has no backup API: the deployment's on-demand backup workflow adds a
temporary HSM (or, with --strategy cycle-hsm, removes and re-creates one with the
same IP), waits for the backup that triggers, removes the HSM, verifies the backup
and prints it. On failure it cleans up and alerts.

  --config PATH        deployment config (YAML)
  --cluster ID         protected cluster id
  --strategy S         add-temporary-hsm (default) or cycle-hsm
  --json               one JSON document instead of tables
Same as: hsmdr backup create --follow ...
USAGE
}

for arg in "$@"; do
  if [[ "$arg" == "-h" || "$arg" == "--help" ]]; then usage; exit 0; fi
done
[[ $# -gt 0 ]] || { usage >&2; exit 2; }
here="$(cd "$(dirname "$0")/../.." && pwd)"
hsmdr="${HSMDR:-$here/.venv/bin/hsmdr}"
command -v "$hsmdr" >/dev/null 2>&1 || hsmdr=hsmdr
exec "$hsmdr" backup create --follow "$@"
