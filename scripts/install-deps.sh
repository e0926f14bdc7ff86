#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, idempotently:
#   - Debian packages: bubblewrap (the local sandbox), git
#   - the four agent CLIs from npm at pinned versions (agents/versions.env), cached outside the
#     clone in $AXON_CI_CACHE/agents (default ~/.cache/axon-ci)
#   - recorded real GitHub API responses (@octokit/fixtures, npm, pinned below) unpacked in
#     $AXON_CI_CACHE/octokit-fixtures, for the spawner's GitHub client tests
#   - real GitHub webhook payloads (@octokit/webhooks-examples, npm, pinned below) unpacked in
#     $AXON_CI_CACHE/webhooks-examples, for the webhook receiver's tests
#   - manifest validators from PyPI (kubernetes-validate, yamllint, checkov) in a venv there
# Prints the environment to export (AXON_AGENT_BIN_DIR, AXON_OCTOKIT_FIXTURES,
# AXON_WEBHOOK_EXAMPLES, AXON_VENV).
set -euo pipefail
only_agents=false
[ "${1:-}" = "--agents" ] && only_agents=true
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${AXON_CI_CACHE:-$HOME/.cache/axon-ci}
mkdir -p "$cache"
set -a; . "$here/agents/versions.env"; set +a

need_apt=()
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
command -v git >/dev/null 2>&1 || need_apt+=(git)
# The real Kubernetes control plane of ../shared/kube (crates/kube/tests/real_apiserver.rs).
command -v etcd >/dev/null 2>&1 || need_apt+=(etcd-server)
command -v xz >/dev/null 2>&1 || need_apt+=(xz-utils)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

agents="$cache/agents"
want="claude-code@$CLAUDE_CODE_VERSION codex@$CODEX_VERSION gemini-cli@$GEMINI_CLI_VERSION opencode-ai@$OPENCODE_VERSION"
if [ "$(cat "$agents/.installed" 2>/dev/null)" != "$want" ]; then
  echo "install-deps: npm install agent CLIs ($want)" >&2
  mkdir -p "$agents"
  npm install --no-fund --no-audit --loglevel=error --prefix "$agents" \
    "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" "@openai/codex@$CODEX_VERSION" \
    "@google/gemini-cli@$GEMINI_CLI_VERSION" "opencode-ai@$OPENCODE_VERSION" >&2
  echo "$want" > "$agents/.installed"
fi

octokit_fixtures_version=23.1.2
fixtures="$cache/octokit-fixtures"
if [ "$(cat "$fixtures/.installed" 2>/dev/null)" != "$octokit_fixtures_version" ]; then
  echo "install-deps: npm pack @octokit/fixtures@$octokit_fixtures_version" >&2
  rm -rf "$fixtures" && mkdir -p "$fixtures"
  (cd "$fixtures" && npm pack --silent --loglevel=error "@octokit/fixtures@$octokit_fixtures_version" >/dev/null \
    && tar xzf octokit-fixtures-*.tgz && rm -f octokit-fixtures-*.tgz)
  echo "$octokit_fixtures_version" > "$fixtures/.installed"
fi

webhooks_examples_version=7.6.1
examples="$cache/webhooks-examples"
if [ "$(cat "$examples/.installed" 2>/dev/null)" != "$webhooks_examples_version" ]; then
  echo "install-deps: npm pack @octokit/webhooks-examples@$webhooks_examples_version" >&2
  rm -rf "$examples" && mkdir -p "$examples"
  (cd "$examples" && npm pack --silent --loglevel=error "@octokit/webhooks-examples@$webhooks_examples_version" >/dev/null \
    && tar xzf octokit-webhooks-examples-*.tgz && rm -f octokit-webhooks-examples-*.tgz)
  echo "$webhooks_examples_version" > "$examples/.installed"
fi

if $only_agents; then
  echo "export AXON_AGENT_BIN_DIR=$agents/node_modules/.bin"
  echo "export AXON_OCTOKIT_FIXTURES=$fixtures/package"
  echo "export AXON_WEBHOOK_EXAMPLES=$examples/package"
  exit 0
fi

venv="$cache/venv"
pywant="kubernetes-validate==1.37.0 yamllint==1.38.0 checkov==3.3.30"
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$pywant" ]; then
  echo "install-deps: pip install $pywant" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check $pywant >&2
  echo "$pywant" > "$venv/.installed"
fi

echo "export AXON_AGENT_BIN_DIR=$agents/node_modules/.bin"
echo "export AXON_OCTOKIT_FIXTURES=$fixtures/package"
echo "export AXON_WEBHOOK_EXAMPLES=$examples/package"
echo "export AXON_VENV=$venv"
