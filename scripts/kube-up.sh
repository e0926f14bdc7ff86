#!/usr/bin/env bash
# A private Kubernetes control plane on 127.0.0.1 (etcd, kube-apiserver,
# kube-controller-manager; no kubelet) for trying the Kubernetes backend by hand: the one
# crates/kube/tests/real_apiserver.rs starts. Finds shared/kube/up.sh beside the repository
# (../shared/kube/up.sh) or beside one of its parents (a git worktree), or $AXON_KUBE_UP, and
# passes the arguments on.
#
#   scripts/kube-up.sh DIR          start; prints "export KUBECONFIG=DIR/kubeconfig"
#   scripts/kube-up.sh --down DIR   stop it
#
# Then: axon install --no-wait (the controller's Pod never runs without a kubelet), and
# AXON_LOG=info axon controller --metrics-addr 127.0.0.1:0 --leader-elect=false to run the
# controller out of cluster. Pods stay Pending until something patches pods/status.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
up=${AXON_KUBE_UP:-}
if [ -z "$up" ]; then
  dir=$root
  while [ "$dir" != / ]; do
    dir=$(dirname "$dir")
    if [ -f "$dir/shared/kube/up.sh" ]; then up=$dir/shared/kube/up.sh; break; fi
  done
fi
if [ -z "$up" ]; then
  echo "kube-up.sh: no shared/kube/up.sh beside $root or its parents; set AXON_KUBE_UP" >&2
  exit 1
fi
exec bash "$up" "$@"
