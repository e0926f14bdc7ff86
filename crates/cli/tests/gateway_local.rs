//! The Axon gateway on the local backend, through the real `axon` binary, real git and real
//! bubblewrap: the agent's environment and readable files hold no real secret; its `git push`
//! reaches a token-protected git server through the gateway, which swaps in the real token, and
//! a push to the base branch is refused; a restricted network admits only allowed hosts and
//! names the refused ones in the Task's log.

mod support;

use axon_testsupport::git_http_server::GitHttpServer;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::{Env, str_at, text, until};

const MODEL_KEY: &str = "sk-gateway-real-model-key";
const GITHUB_TOKEN: &str = "ghp-gateway-real-token";

fn task_yaml(name: &str, agent: &str, extra: &str) -> String {
    format!(
        "apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata:\n  name: {name}\nspec:\n  type: claude-code\n  prompt: go\n  image: {agent}\n  credentials:\n    type: api-key\n    secretRef:\n      name: key\n{extra}"
    )
}

fn apply(env: &Env, name: &str, yaml: &str) {
    let file = env.root().join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).expect("write yaml");
    env.ok(&["apply", "-f", &file.to_string_lossy()]);
}

fn finished(env: &Env, name: &str) -> Value {
    let mut last = None;
    until(&format!("Task {name} finished"), || {
        last = env.task(name);
        matches!(
            last.as_ref().and_then(|t| str_at(t, "/status/phase")),
            Some("Succeeded" | "Failed")
        )
    });
    last.expect("task")
}

fn work_dir(env: &Env, task: &Value) -> PathBuf {
    let uid = str_at(task, "/metadata/uid").expect("uid");
    env.home().join("tasks").join(uid).join("work")
}

fn read(dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn no_secret_reaches_the_agent_and_git_goes_through_the_gateway() {
    let env = Env::builder("gateway-git").build();
    let git = GitHttpServer::start().expect("git http server");
    git.require_token(GITHUB_TOKEN);
    env.create_secret("key", "ANTHROPIC_API_KEY", MODEL_KEY);
    env.create_secret("gh", "GITHUB_TOKEN", GITHUB_TOKEN);
    env.ok(&[
        "create",
        "workspace",
        "ws",
        "--repo",
        &git.url(),
        "--ref",
        "main",
        "--secret",
        "gh",
    ]);
    let home = env.home().display().to_string();
    // Patterns that match a secret without containing it (the probe's own command line is
    // readable too).
    let needle = |s: &str| format!("{}[{}]", &s[..s.len() - 1], &s[s.len() - 1..]);
    let (model, github) = (needle(MODEL_KEY), needle(GITHUB_TOKEN));
    // The agent looks for either secret everywhere it can read, then pushes twice.
    let agent = env.agent(
        "git-agent.sh",
        &format!(
            r#"for v in '{model}' '{github}'; do
  env | grep -q "$v" && echo "LEAK in the environment"
  grep -rls "$v" "$HOME" /tmp . '{home}' /proc/*/environ /proc/*/cmdline 2>/dev/null | sed 's/^/LEAK in /'
done
case "$GITHUB_TOKEN" in axon-gw-*) echo "gateway token: yes" ;; *) echo "gateway token: no" ;; esac
echo change > change.txt
git add change.txt && git commit -qm change
git push origin HEAD:refs/heads/feature > push-feature.out 2>&1; echo $? > push-feature.code
git push origin HEAD:refs/heads/main > push-main.out 2>&1; echo $? > push-main.code
exit 0"#
        ),
    );
    apply(
        &env,
        "pusher",
        &task_yaml(
            "pusher",
            &agent.to_string_lossy(),
            "  workspaceRef:\n    name: ws\n",
        ),
    );
    let task = finished(&env, "pusher");
    let log = env.ok(&["logs", "pusher"]);
    let transcript = format!("{task:#}\n{log}");
    assert_eq!(
        str_at(&task, "/status/phase"),
        Some("Succeeded"),
        "{transcript}"
    );
    assert!(!log.contains("LEAK"), "{transcript}");
    assert!(log.contains("gateway token: yes"), "{transcript}");
    let work = work_dir(&env, &task);

    // The feature branch landed, pushed with the real token the agent never held.
    assert_eq!(
        read(&work, "push-feature.code"),
        "0",
        "{}",
        read(&work, "push-feature.out")
    );
    assert_eq!(
        git.file_at("feature", "change.txt").as_deref(),
        Some("change\n")
    );
    let seen = git.requests();
    assert!(!seen.is_empty());
    for r in &seen {
        let line = format!("{r:?}");
        assert!(
            !line.contains("axon-gw-"),
            "the gateway token reached git: {line}"
        );
    }
    // The base branch is refused by the gateway, with a reason git shows.
    assert_ne!(read(&work, "push-main.code"), "0");
    let refusal = read(&work, "push-main.out");
    assert!(refusal.contains("base branch"), "{refusal}");
    assert_eq!(git.file_at("main", "change.txt"), None);

    // Every gateway request is recorded, without a secret.
    let requests = std::fs::read_to_string(
        env.home()
            .join("tasks")
            .join(str_at(&task, "/metadata/uid").expect("uid"))
            .join("requests.jsonl"),
    )
    .unwrap_or_default();
    assert!(requests.contains("git-receive-pack"), "{requests}");
    for secret in [MODEL_KEY, GITHUB_TOKEN, "axon-gw-"] {
        assert!(!requests.contains(secret), "{secret} in {requests}");
    }
}

/// An HTTP server on 127.0.0.1 answering `hello` and counting requests; it stops with the
/// test process (each accept is bounded by the test's own run).
fn hello_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
            );
        }
    });
    (port, count)
}

#[test]
fn a_restricted_network_admits_only_allowed_hosts() {
    let env = Env::builder("gateway-net").build();
    env.create_secret("key", "ANTHROPIC_API_KEY", MODEL_KEY);
    let (allowed_port, allowed) = hello_server();
    let (denied_port, denied) = hello_server();
    let agent = env.agent(
        "net-agent.sh",
        &format!(
            r#"curl -s -m 10 -o allowed.out -w '%{{http_code}}' http://localhost:{allowed_port}/ > allowed.code
curl -s -m 10 -o denied.out -w '%{{http_code}}' http://127.0.0.1:{denied_port}/ > denied.code
curl --noproxy '*' -s -m 5 http://127.0.0.1:{denied_port}/ > /dev/null; echo $? > direct.code
exit 0"#
        ),
    );
    apply(
        &env,
        "fenced",
        &task_yaml(
            "fenced",
            &agent.to_string_lossy(),
            "  network:\n    mode: restricted\n    allow: [localhost]\n",
        ),
    );
    let task = finished(&env, "fenced");
    let log = env.ok(&["logs", "fenced"]);
    let transcript = format!("{task:#}\n{log}");
    assert_eq!(
        str_at(&task, "/status/phase"),
        Some("Succeeded"),
        "{transcript}"
    );
    let work = work_dir(&env, &task);
    assert_eq!(read(&work, "allowed.code"), "200", "{transcript}");
    assert_eq!(read(&work, "allowed.out"), "hello");
    assert_eq!(allowed.load(Ordering::SeqCst), 1);
    // Through the proxy: refused by the gateway, named in the log.
    assert_eq!(read(&work, "denied.code"), "403", "{transcript}");
    assert!(
        log.contains("refused a connection to 127.0.0.1"),
        "{transcript}"
    );
    // Around the proxy: no route out of the sandbox's own network.
    assert_ne!(read(&work, "direct.code"), "0", "{transcript}");
    assert_eq!(denied.load(Ordering::SeqCst), 0);
    let out = env.output(&["get", "task", "fenced", "-o", "yaml"]);
    assert!(out.status.success(), "{}", text(&out));
}
