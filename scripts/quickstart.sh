#!/usr/bin/env bash
# Quick start on the local backend: build and install axon, install bubblewrap and the Claude
# Code CLI, then run one Task end to end and show what came out.
#
#   scripts/quickstart.sh                      # offline demo (no API key needed)
#   scripts/quickstart.sh REPO "PROMPT"        # your repository and prompt (needs ANTHROPIC_API_KEY)
#
# Offline demo: a local bare repository and Axon's scripted fake model server on 127.0.0.1
# stand in for GitHub and the model; the real Claude Code CLI runs in the real sandbox,
# writes hello.py, commits on a new branch and pushes it. Nothing leaves this machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

echo "==> installing bubblewrap and the agent CLIs (scripts/install-deps.sh --agents)"
deps=$(scripts/install-deps.sh --agents)
eval "$deps"
export PATH="$AXON_AGENT_BIN_DIR:$HOME/.cargo/bin:$PATH"

echo "==> building axon (cargo install --path crates/cli)"
cargo install --quiet --locked --path crates/cli --root "$HOME/.cargo"

repo=${1:-}
prompt=${2:-"Add a hello world program in Python (hello.py), commit it on a new branch and push the branch."}

if [ -n "$repo" ]; then
  : "${ANTHROPIC_API_KEY:?set ANTHROPIC_API_KEY (or run without arguments for the offline demo)}"
  config="${AXON_HOME:-$HOME/.axon}/config.yaml"
  if [ ! -f "$config" ]; then
    axon init >/dev/null
    printf 'apiKey: %s\nworkspace:\n  repo: %s\n' "$ANTHROPIC_API_KEY" "$repo" >> "$config"
  fi
  axon run -p "$prompt" --wait
  exit $?
fi

echo "==> offline demo"
cargo build --quiet --release -p axon-testsupport --bin axon-fake-model
demo=$(mktemp -d "${TMPDIR:-/tmp}/axon-demo.XXXXXX")
export AXON_HOME="$demo/axon-home"
git init -q --bare -b main "$demo/demo.git"
git clone -q "$demo/demo.git" "$demo/seed" 2>/dev/null
git -C "$demo/seed" -c user.name=demo -c user.email=demo@example.com commit -q --allow-empty -m "initial commit"
git -C "$demo/seed" push -q origin HEAD:main

# The demo repository is served by git daemon on 127.0.0.1 (the sandbox sees the host
# read-only, so the agent pushes over the network as it would to GitHub).
git_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$(git --exec-path)/git-daemon" --export-all --enable=receive-pack --reuseaddr \
  --base-path="$demo" --listen=127.0.0.1 --port="$git_port" "$demo" &
git_pid=$!
target/release/axon-fake-model --demo --addr-file "$demo/model.addr" --max-seconds 600 &
model_pid=$!
trap 'kill $model_pid $git_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do git ls-remote "git://127.0.0.1:$git_port/demo.git" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 100); do [ -s "$demo/model.addr" ] && break; sleep 0.1; done
model_url="http://$(cat "$demo/model.addr")"

mkdir -p "$AXON_HOME"
export AXON_AGENT_BIN_DIR
cat > "$AXON_HOME/config.yaml" <<YAML
apiKey: offline-demo-key
modelBaseURL: $model_url
workspace:
  repo: git://127.0.0.1:$git_port/demo.git
  ref: main
YAML

axon run --name hello-demo -p "$prompt" --wait
echo
axon get tasks -o wide
echo
echo "==> the pushed branch, in the bare repository:"
git --git-dir "$demo/demo.git" log --oneline --all
git --git-dir "$demo/demo.git" show --stat axon/hello | head -12
echo
echo "Demo state is in $demo (AXON_HOME=$AXON_HOME). Try: AXON_HOME=$AXON_HOME axon logs hello-demo"
