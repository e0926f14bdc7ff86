#!/usr/bin/env bash
# Validate the generated Kubernetes manifests with tools written by others:
#   - kubernetes-validate --strict on every built-in-kind document: the install RBAC, Namespace
#     and controller Deployment, the gateway's RBAC, Service and Deployment, a rendered Task
#     Job and ConfigMap (without and through the gateway), the gateway CA ConfigMap and the
#     restricted-egress NetworkPolicy, a TaskSpawner's Deployment and RBAC (CRD-typed
#     documents are checked structurally by crates/api's tests);
#   - checkov --skip-download (Pod security, RBAC) on the same documents;
#   - yamllint on deploy/.
# Needs the venv from scripts/install-deps.sh ($AXON_VENV, default ~/.cache/axon-ci/venv).
# Skipped checkov checks, each with its reason (also in crates/kube/README.md):
#   CKV_K8S_43  images by digest: Axon references versioned tags; pin digests with
#               axon install --image / spec.image when your policy requires it.
#   CKV_K8S_38  service account token: the controller and spawners call the API server and need
#               it; Task Pods (the agents) do set automountServiceAccountToken: false.
#   CKV_K8S_8/9 probes on the spawner: it is a poll loop without an HTTP endpoint; the
#               Deployment restarts it when it exits. The controller has both probes.
#   CKV_K8S_35  secrets as env: only with `axon controller --gateway=false` (migration), where
#               the agent image interface passes the model credential as an environment variable;
#               through the gateway (the default, sample task-job-gateway) a Pod has no Secret.
#   CKV_K8S_15  pull policy Always on Task Pods: hundreds of Tasks on one versioned tag would
#               each hit the registry; the controller and spawners use Always.
#   CKV2_K8S_6  NetworkPolicy: Tasks with spec.network.mode restricted get the controller's
#               axon-agent-restricted policy (gateway and DNS only); open Tasks, the controller
#               and the gateway need egress that differs per cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${AXON_VENV:-$HOME/.cache/axon-ci/venv}
for tool in kubernetes-validate checkov yamllint; do
  if [ ! -x "$venv/bin/$tool" ]; then
    echo "validate-manifests: $venv/bin/$tool missing: run scripts/install-deps.sh" >&2
    exit 1
  fi
done
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
AXON_SAMPLES_DIR="$dir" cargo test -q -p axon-kube --test manifest_samples >/dev/null
count=$(ls "$dir"/*.yaml | wc -l)
echo "validate-manifests: $count documents"
"$venv/bin/kubernetes-validate" --strict --quiet "$dir"/*.yaml
echo "validate-manifests: kubernetes-validate --strict passed"
"$venv/bin/checkov" --skip-download --framework kubernetes -d "$dir" --compact --quiet \
  --skip-check CKV_K8S_43,CKV_K8S_38,CKV_K8S_8,CKV_K8S_9,CKV_K8S_35,CKV_K8S_15,CKV2_K8S_6
echo "validate-manifests: checkov passed"
"$venv/bin/yamllint" -d '{extends: relaxed, rules: {line-length: disable}}' deploy/
echo "validate-manifests: yamllint passed"
