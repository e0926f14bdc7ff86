# Development targets (thin wrappers over cargo and scripts/).
.PHONY: update verify test test-integration test-e2e build image bench

# Regenerate checked-in artefacts (deploy/ manifests, snapshots), format.
update:
	AXON_UPDATE_DEPLOY=1 cargo test -p axon-kube --test deploy_fresh
	cargo insta test --accept 2>/dev/null || INSTA_UPDATE=always cargo test --workspace
	cargo fmt --all

# What CI checks, without the slow end-to-end tests: format, lints, generated files fresh.
verify:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test -p axon-kube --test deploy_fresh
	scripts/validate-manifests.sh

# Unit and snapshot tests (pure core, api, parsers, renderers).
test:
	cargo test --workspace --lib

# Integration tests: API-contract (mock Kubernetes API), local backend end to end with real
# git + bubblewrap, the four real agent CLIs against the fake model server.
test-integration:
	deps="$$(scripts/install-deps.sh)" && eval "$$deps" && cargo test --workspace --tests

# End to end on a real cluster (kind, k3d): set AXON_E2E_KUBECONFIG.
test-e2e:
	cargo test -p axon-kube --test kube_e2e -- --nocapture

build:
	cargo build --release -p axon-cli

# Agent and controller images (needs a Docker engine).
image:
	for t in claude-code codex gemini opencode; do docker build -f agents/$$t/Dockerfile -t ghcr.io/axon-core/axon-$$t:dev . ; done
	docker build -f agents/axon/Dockerfile -t ghcr.io/axon-core/axon:dev .

bench:
	bench/run.sh
