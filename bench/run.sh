#!/usr/bin/env bash
# Run every benchmark; each prints its numbers next to a baseline measured in the same run.
#   bench/run.sh            all
#   bench/run.sh local      one of: local, pipeline, kube, github_poll, gateway
set -euo pipefail
cd "$(dirname "$0")"
which=${1:-all}
for b in local pipeline kube github_poll gateway; do
  if [ "$which" = all ] || [ "$which" = "$b" ]; then
    echo "=== bench/$b.sh"
    "./$b.sh"
    echo
  fi
done
