//! GitHub webhooks on the local backend, end to end: real payloads from
//! `@octokit/webhooks-examples`, signed here and posted to the real `axon serve --listen` on
//! 127.0.0.1, whose TaskSpawner also polls a fake GitHub (`AXON_GITHUB_API_URL`) for the same
//! repository. Asserts: unsigned and wrongly signed deliveries are refused (401) and create
//! nothing; 1,000 redeliveries of one delivery make one Task, also across a restart; a webhook
//! and a poll for the same issue make one Task, whichever comes first; an issue labelled with
//! an excluded label gets no Task; other events and content types are turned away. And
//! `/axon` comment commands: refused below the commenter permission the spawner asks for (with
//! a reply), ignored when edited, quoted, in code or by a bot, one Task per comment however
//! often it is delivered, the extra prompt in `{{.Command.Args}}`. And pull requests:
//! `pull_request` and `pull_request_review` deliveries make the poll's Task for a pull request,
//! reviews only in the states the spawner lists. And CI remediation: a failed `check_run` or
//! `workflow_run` on a pull request makes one Task on its head branch with `{{.Check.*}}`,
//! however often it is delivered, none for a success or an unnamed check, and no more than
//! `maxAttempts` per pull request.

mod support;

use axon_core::webhook::signature::sign;
use axon_testsupport::git_server::GitServer;
use axon_testsupport::github_server::FakeGitHub;
use axon_testsupport::webhook_examples::{example, webhook_examples_dir};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;
use support::{Env, poll, str_at};

const SECRET: &str = "whsec-local-e2e-7f3a9c";
const DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

/// `axon serve --listen 127.0.0.1:0`, its stderr in `serve.log`; killed when dropped.
struct Serve {
    child: Child,
    log: PathBuf,
    addr: SocketAddr,
}

impl Serve {
    fn start(env: &Env, github: &FakeGitHub) -> Serve {
        let log = env.root().join("serve.log");
        let _ = std::fs::remove_file(&log);
        let out = std::fs::File::create(&log).expect("log");
        let child = env
            .axon_process()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("AXON_GITHUB_API_URL", github.base_url())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("axon serve");
        let mut addr = None;
        let found = poll(Duration::from_secs(30), || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            addr = text
                .lines()
                .find_map(|l| l.strip_prefix("axon serve: receiving GitHub webhooks at http://"))
                .and_then(|rest| rest.strip_suffix("/webhooks/github"))
                .and_then(|a| a.parse().ok());
            addr.is_some()
        });
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(found, "axon serve did not say where it listens: {text}");
        Serve {
            child,
            log,
            addr: addr.expect("address"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on its own connection: the status code and the body.
fn post(addr: SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the receiver");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut head = format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send head");
    stream.write_all(body).expect("send body");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A delivery of `event` with `body`, signed with `secret` (unsigned when `None`).
fn deliver(
    addr: SocketAddr,
    event: &str,
    delivery: &str,
    secret: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let signature = secret.map(|s| sign(s.as_bytes(), body));
    let mut headers = vec![
        ("Content-Type", "application/json"),
        ("X-GitHub-Event", event),
        ("X-GitHub-Delivery", delivery),
        ("User-Agent", "GitHub-Hookshot/test"),
    ];
    if let Some(s) = &signature {
        headers.push(("X-Hub-Signature-256", s.as_str()));
    }
    post(addr, &headers, body)
}

/// The names of the spawner's Tasks.
fn task_names(env: &Env) -> Vec<String> {
    let mut names: Vec<String> = env
        .task_list()
        .iter()
        .filter_map(|t| t["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The example payload for `action`, about issue `number` with `labels`.
fn issue_payload(action: &str, number: u64, labels: &[&str]) -> Vec<u8> {
    let dir = webhook_examples_dir();
    let mut payload = example(&dir, "issues", action).unwrap_or_else(|e| panic!("{e}"));
    payload["issue"]["number"] = number.into();
    payload["issue"]["labels"] = labels
        .iter()
        .map(|l| serde_json::json!({"name": l, "color": "d73a4a", "default": false}))
        .collect::<Vec<_>>()
        .into();
    serde_json::to_vec(&payload).expect("json")
}

/// Serves a copy of the git daemon's repository as Codertocat/Hello-World (the examples'
/// repository); its URL.
fn hello_world(git: &GitServer) -> String {
    let base = git.repo_path().parent().expect("base").to_path_buf();
    std::fs::create_dir_all(base.join("Codertocat")).expect("owner dir");
    let cloned = std::process::Command::new("git")
        .args(["clone", "--quiet", "--bare"])
        .arg(git.repo_path())
        .arg(base.join("Codertocat/Hello-World.git"))
        .status()
        .expect("git clone");
    assert!(cloned.success());
    format!("git://127.0.0.1:{}/Codertocat/Hello-World.git", git.port())
}

#[test]
fn github_issue_webhooks_make_one_task_per_issue_with_the_poll() {
    let env = Env::builder("webhook-local")
        .config("backend: local\n")
        .build();
    let examples = webhook_examples_dir();
    let opened = example(&examples, "issues", "opened").unwrap_or_else(|e| panic!("{e}"));
    let repo_name = opened["repository"]["full_name"]
        .as_str()
        .expect("full_name")
        .to_string();
    assert_eq!(repo_name, "Codertocat/Hello-World");

    // The Workspace's repo is Codertocat/Hello-World on a git daemon; the API a fake GitHub.
    let gh = FakeGitHub::start().expect("fake GitHub");
    let git = GitServer::start().expect("git daemon");
    let repo = hello_world(&git);
    let agent = env.agent("agent.sh", "echo \"working on: $1\"\nexit 0");
    env.create_secret("key", "ANTHROPIC_API_KEY", "sk-x");
    env.create_secret("hook", "WEBHOOK_SECRET", SECRET);
    let manifests = env.root().join("spawner.yaml");
    std::fs::write(
        &manifests,
        format!(
            r#"apiVersion: axon.io/v1alpha1
kind: Workspace
metadata:
  name: ws
spec:
  repo: {repo}
  ref: main
---
apiVersion: axon.io/v1alpha1
kind: TaskSpawner
metadata:
  name: hooks
spec:
  pollInterval: 1s
  when:
    githubIssues:
      labels: [bug]
      excludeLabels: [wip]
      webhook:
        secretRef:
          name: hook
  taskTemplate:
    type: claude-code
    image: {agent}
    credentials:
      type: api-key
      secretRef:
        name: key
    workspaceRef:
      name: ws
    promptTemplate: "Fix #{{{{.Number}}}}: {{{{.Title}}}}"
"#,
            agent = agent.display()
        ),
    )
    .expect("manifests");
    env.ok(&["apply", "-f", &manifests.to_string_lossy()]);
    let mut serve = Serve::start(&env, &gh);
    let addr = serve.addr;
    let body = issue_payload("opened", 1, &["bug"]);

    // Unsigned, wrongly signed, or signed over other bytes: 401, and no Task.
    let (status, text) = deliver(addr, "issues", DELIVERY, None, &body);
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("missing X-Hub-Signature-256"), "{text}");
    let (status, text) = deliver(addr, "issues", DELIVERY, Some("not-the-secret"), &body);
    assert_eq!(status, 401, "{text}");
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let signature = sign(SECRET.as_bytes(), &body);
    let (status, _) = post(
        addr,
        &[
            ("Content-Type", "application/json"),
            ("X-GitHub-Event", "issues"),
            ("X-GitHub-Delivery", DELIVERY),
            ("X-Hub-Signature-256", &signature),
        ],
        &tampered,
    );
    assert_eq!(status, 401);
    // Wrong content type and other events.
    let (status, _) = post(
        addr,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"payload=%7B%7D",
    );
    assert_eq!(status, 415);
    let ping = br#"{"zen": "Keep it logically awesome.", "hook_id": 1}"#;
    assert_eq!(deliver(addr, "ping", "p-1", Some(SECRET), ping).0, 200);
    let (status, text) = deliver(addr, "workflow_job", "wj-1", Some(SECRET), &body);
    assert_eq!(status, 202, "{text}");
    assert!(task_names(&env).is_empty(), "{:?}", task_names(&env));
    // None of the refused deliveries used up the delivery id.
    let (status, text) = deliver(addr, "issues", DELIVERY, Some(SECRET), &body);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("hooks: created Task hooks-1"), "{text}");
    assert_eq!(task_names(&env), ["hooks-1"]);

    // 1,000 redeliveries of the same delivery, 8 at a time: one Task.
    let redelivered: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    (0..125)
                        .map(|_| deliver(addr, "issues", DELIVERY, Some(SECRET), &body))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("sender"))
            .collect()
    });
    assert_eq!(redelivered.len(), 1000);
    for (status, text) in &redelivered {
        assert_eq!(*status, 200, "{text}");
        assert!(text.contains("already taken"), "{text}");
    }
    assert_eq!(task_names(&env), ["hooks-1"]);
    let task = env.task("hooks-1").expect("hooks-1");
    assert_eq!(
        task["spec"]["prompt"].as_str(),
        Some("Fix #1: Spelling error in the README file")
    );

    // The poll finds the same issue: no second Task.
    let title = opened["issue"]["title"].as_str().expect("title");
    assert_eq!(gh.add_issue(title, "", &["bug"]), 1);
    let before = gh.requests().len();
    assert!(
        poll(Duration::from_secs(30), || gh.requests().len()
            >= before + 3),
        "serve stopped polling: {}",
        serve.log()
    );
    assert_eq!(task_names(&env), ["hooks-1"]);

    // The other way round: the poll first, then the webhook for the same issue.
    assert_eq!(gh.add_issue("second", "", &["bug"]), 2);
    assert!(
        poll(Duration::from_secs(30), || task_names(&env).len() == 2),
        "the poll made no Task for issue 2: {}",
        serve.log()
    );
    let (status, text) = deliver(
        addr,
        "issues",
        "delivery-issue-2",
        Some(SECRET),
        &issue_payload("labeled", 2, &["bug"]),
    );
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("Task hooks-2 already exists"), "{text}");
    assert_eq!(task_names(&env), ["hooks-1", "hooks-2"]);

    // Labelled with an excluded label: no Task. Without the required label: none either.
    let (status, text) = deliver(
        addr,
        "issues",
        "delivery-issue-3",
        Some(SECRET),
        &issue_payload("labeled", 3, &["bug", "wip"]),
    );
    assert_eq!(status, 200, "{text}");
    let (status, text) = deliver(
        addr,
        "issues",
        "delivery-issue-4",
        Some(SECRET),
        &issue_payload("opened", 4, &[]),
    );
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("skipped"), "{text}");
    assert_eq!(task_names(&env), ["hooks-1", "hooks-2"]);

    // A restart remembers the delivery; the secret is in no log line.
    drop(serve);
    serve = Serve::start(&env, &gh);
    let (status, text) = deliver(serve.addr, "issues", DELIVERY, Some(SECRET), &body);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("already taken"), "{text}");
    assert_eq!(task_names(&env), ["hooks-1", "hooks-2"]);
    assert!(!serve.log().contains(SECRET));
    let status: Value =
        serde_json::from_str(&env.ok(&["get", "taskspawner", "hooks", "-o", "json"]))
            .expect("spawner json");
    let remembered: Vec<&str> = status["status"]["spawnedItems"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(remembered.contains(&"1"), "{status}");

    // SIGTERM stops the receiver with the rest, cleanly.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &serve.child.id().to_string()])
        .status();
    let mut exit = None;
    let exited = poll(Duration::from_secs(30), || {
        exit = serve.child.try_wait().ok().flatten();
        exit.is_some()
    });
    assert!(exited, "axon serve ignored SIGTERM: {}", serve.log());
    assert!(
        exit.is_some_and(|s| s.success()),
        "{exit:?}: {}",
        serve.log()
    );
    assert!(
        serve.log().contains("axon serve: stopped"),
        "{}",
        serve.log()
    );
    assert!(TcpStream::connect(serve.addr).is_err(), "still listening");
}

/// The `issue_comment` example for `action`, rewritten to be comment `id` by `login` on issue
/// `number` saying `body`.
fn comment_payload(action: &str, id: u64, login: &str, number: u64, body: &str) -> Vec<u8> {
    let dir = webhook_examples_dir();
    let mut payload = example(&dir, "issue_comment", action).unwrap_or_else(|e| panic!("{e}"));
    payload["issue"]["number"] = number.into();
    payload["comment"]["id"] = id.into();
    payload["comment"]["body"] = body.into();
    payload["comment"]["user"]["login"] = login.into();
    payload["sender"]["login"] = login.into();
    serde_json::to_vec(&payload).expect("json")
}

/// A Task's phase.
fn phase(env: &Env, name: &str) -> Option<String> {
    env.task(name)
        .and_then(|t| t["status"]["phase"].as_str().map(str::to_string))
}

#[test]
fn comment_commands_are_authorised_by_permission_and_make_one_task_per_comment() {
    let env = Env::builder("webhook-commands")
        .config("backend: local\n")
        .build();
    let gh = FakeGitHub::start().expect("fake GitHub");
    let git = GitServer::start().expect("git daemon");
    let repo = hello_world(&git);
    let agent = env.agent(
        "agent.sh",
        "echo \"working on: $1\"\ncase \"$1\" in *hold-on*) sleep 300;; esac\nexit 0",
    );
    env.create_secret("key", "ANTHROPIC_API_KEY", "sk-x");
    env.create_secret("hook", "WEBHOOK_SECRET", SECRET);
    let manifests = env.root().join("spawner.yaml");
    std::fs::write(
        &manifests,
        format!(
            r#"apiVersion: axon.io/v1alpha1
kind: Workspace
metadata:
  name: ws
spec:
  repo: {repo}
  ref: main
---
apiVersion: axon.io/v1alpha1
kind: TaskSpawner
metadata:
  name: cmds
spec:
  pollInterval: 1s
  when:
    githubIssues:
      labels: [bug]
      webhook:
        secretRef:
          name: hook
      commentPolicy:
        allowedTeams: [core]
        replyOnDenied: true
  taskTemplate:
    type: claude-code
    image: {agent}
    credentials:
      type: api-key
      secretRef:
        name: key
    workspaceRef:
      name: ws
    promptTemplate: "Fix #{{{{.Number}}}}: {{{{.Title}}}}{{{{if .Command.Args}}}} ({{{{.Command.Args}}}}, asked by @{{{{.Command.Author}}}}){{{{end}}}}"
"#,
            agent = agent.display()
        ),
    )
    .expect("manifests");
    env.ok(&["apply", "-f", &manifests.to_string_lossy()]);
    gh.set_permission("Codertocat", "write");
    gh.set_permission("mallory", "triage");
    gh.set_permission("teamie", "read");
    gh.add_team_member("Codertocat", "core", "teamie");
    let serve = Serve::start(&env, &gh);
    let addr = serve.addr;
    let send = |delivery: &str, body: &[u8]| {
        let (status, text) = deliver(addr, "issue_comment", delivery, Some(SECRET), body);
        assert_eq!(status, 200, "{text}");
        text
    };

    // Triage permission is below the default (write): no Task, and a polite reply.
    let text = send(
        "c-denied",
        &comment_payload("created", 11, "mallory", 1, "/axon run"),
    );
    assert!(
        text.contains("cmds: denied") && text.contains("(replied)"),
        "{text}"
    );
    let replies = gh.posted_comments();
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0].0, 1);
    assert!(replies[0].1.starts_with("@mallory sorry"), "{replies:?}");
    // Edited comments, commands in code or quotes, and bots: nothing, and GitHub is not asked.
    let asked = gh.requests().len();
    let edited = comment_payload("edited", 12, "Codertocat", 1, "/axon run");
    assert!(send("c-edited", &edited).contains("only new comments"));
    for (n, body) in [
        (13, "Use it like this:\n```\n/axon run\n```"),
        (14, "> /axon run\nI would not."),
        (15, "    /axon run"),
        (16, "please /axon run"),
    ] {
        let text = send(
            &format!("c-{n}"),
            &comment_payload("created", n, "Codertocat", 1, body),
        );
        assert!(text.contains("no /axon command"), "{body:?}: {text}");
    }
    let bot = comment_payload("created", 17, "axon[bot]", 1, "/axon run");
    assert!(send("c-bot", &bot).contains("bots cannot command"));
    assert!(task_names(&env).is_empty(), "{:?}", task_names(&env));
    let permission_requests = |from: usize| {
        gh.requests()[from..]
            .iter()
            .filter(|r| r.path.ends_with("/permission"))
            .count()
    };
    assert_eq!(permission_requests(asked), 0);

    // Write permission: the item's Task, under the poll's name, with the extra prompt.
    let run = comment_payload(
        "created",
        1001,
        "Codertocat",
        1,
        "/axon run  add a regression test ",
    );
    let text = send("c-run", &run);
    assert!(text.contains("cmds: created Task cmds-1"), "{text}");
    let task = env.task("cmds-1").expect("cmds-1");
    assert_eq!(
        task["spec"]["prompt"].as_str(),
        Some(
            "Fix #1: Spelling error in the README file (add a regression test, asked by @Codertocat)"
        )
    );
    assert_eq!(
        task["metadata"]["annotations"]["axon.io/source-comment"].as_str(),
        Some("1001")
    );

    // 100 redeliveries of that comment, 4 at a time: one Task.
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..25)
                        .map(|_| deliver(addr, "issue_comment", "c-run", Some(SECRET), &run))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("sender"))
            .collect()
    });
    assert_eq!(answers.len(), 100);
    for (status, text) in &answers {
        assert_eq!(*status, 200, "{text}");
        assert!(text.contains("already taken"), "{text}");
    }
    assert_eq!(task_names(&env), ["cmds-1"]);

    // Once it finished: the same comment under another delivery id makes nothing; a new
    // `/axon retry` makes the next attempt, keyed by its comment.
    assert!(
        poll(Duration::from_secs(60), || phase(&env, "cmds-1").as_deref()
            == Some("Succeeded")),
        "cmds-1 did not succeed: {:?} {}",
        env.task("cmds-1"),
        serve.log()
    );
    let text = send("c-run-again", &run);
    assert!(text.contains("Task cmds-1 already exists"), "{text}");
    let retry = comment_payload("created", 1002, "Codertocat", 1, "/axon retry");
    let text = send("c-retry", &retry);
    assert!(text.contains("cmds: created Task cmds-1-c1002"), "{text}");
    assert_eq!(
        env.task("cmds-1-c1002").expect("attempt")["spec"]["prompt"].as_str(),
        Some("Fix #1: Spelling error in the README file")
    );
    assert_eq!(task_names(&env), ["cmds-1", "cmds-1-c1002"]);

    // A member of an allowed team with only read permission: allowed.
    let text = send(
        "c-team",
        &comment_payload("created", 2001, "teamie", 2, "/axon run"),
    );
    assert!(text.contains("cmds: created Task cmds-2"), "{text}");
    assert!(
        gh.requests()
            .iter()
            .any(|r| r.path == "/orgs/Codertocat/teams/core/memberships/teamie"),
        "{:?}",
        gh.requests()
    );
    // Nothing running on issue 3: nothing to cancel.
    let text = send(
        "c-cancel",
        &comment_payload("created", 3001, "Codertocat", 3, "/axon cancel"),
    );
    assert!(text.contains("nothing to cancel"), "{text}");
    assert_eq!(task_names(&env), ["cmds-1", "cmds-1-c1002", "cmds-2"]);
    // GitHub rate-limits the permission check: 503 and the delivery is not used up, so
    // GitHub's redelivery of it creates the Task once GitHub answers again.
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64 + 3600)
        .unwrap_or(0);
    gh.rate_limit_next(1_000_000, reset);
    let limited = comment_payload("created", 5001, "Codertocat", 5, "/axon run");
    let (status, text) = deliver(addr, "issue_comment", "c-limited", Some(SECRET), &limited);
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("rate limit"), "{text}");
    gh.rate_limit_next(0, 0);
    let text = send("c-limited", &limited);
    assert!(text.contains("cmds: created Task cmds-5"), "{text}");
    assert_eq!(
        task_names(&env),
        ["cmds-1", "cmds-1-c1002", "cmds-2", "cmds-5"]
    );
    assert_eq!(gh.posted_comments().len(), 1);

    // `/axon cancel` stops the item's running Task: it ends Cancelled, saying who asked.
    let text = send(
        "c-hold",
        &comment_payload("created", 6001, "Codertocat", 6, "/axon run hold-on"),
    );
    assert!(text.contains("cmds: created Task cmds-6"), "{text}");
    support::until("Task cmds-6 running", || {
        env.task("cmds-6")
            .is_some_and(|t| str_at(&t, "/status/phase") == Some("Running"))
    });
    let text = send(
        "c-stop",
        &comment_payload("created", 6002, "Codertocat", 6, "/axon cancel"),
    );
    assert!(
        text.contains("Task cmds-6 cancelled"),
        "{text}\n{:#}",
        env.task("cmds-6").unwrap_or_default()
    );
    support::until("Task cmds-6 Cancelled", || {
        env.task("cmds-6")
            .is_some_and(|t| str_at(&t, "/status/phase") == Some("Cancelled"))
    });
    let t = env.task("cmds-6").expect("task");
    let message = str_at(&t, "/status/message").unwrap_or_default();
    assert!(message.contains("/axon cancel by @Codertocat"), "{t:#}");
    assert_eq!(gh.posted_comments().len(), 2, "one answer to the cancel");
    assert!(!serve.log().contains(SECRET));
}

/// The `event` example for `action` (`pull_request` or `pull_request_review`), about pull
/// request `number` with `labels`, and for a review, in `state`.
fn pull_payload(
    event: &str,
    action: &str,
    number: u64,
    labels: &[&str],
    state: Option<&str>,
) -> Vec<u8> {
    let dir = webhook_examples_dir();
    let mut payload = example(&dir, event, action).unwrap_or_else(|e| panic!("{e}"));
    payload["number"] = number.into();
    payload["pull_request"]["number"] = number.into();
    payload["pull_request"]["labels"] = labels
        .iter()
        .map(|l| serde_json::json!({"name": l, "color": "d73a4a", "default": false}))
        .collect::<Vec<_>>()
        .into();
    if let Some(s) = state {
        payload["review"]["state"] = s.into();
    }
    serde_json::to_vec(&payload).expect("json")
}

#[test]
fn pull_request_and_review_webhooks_make_the_polls_tasks() {
    let env = Env::builder("webhook-pulls")
        .config("backend: local\n")
        .build();
    let gh = FakeGitHub::start().expect("fake GitHub");
    let git = GitServer::start().expect("git daemon");
    let repo = hello_world(&git);
    let agent = env.agent("agent.sh", "echo \"reviewing: $1\"\nexit 0");
    env.create_secret("key", "ANTHROPIC_API_KEY", "sk-x");
    env.create_secret("hook", "WEBHOOK_SECRET", SECRET);
    let manifests = env.root().join("spawner.yaml");
    std::fs::write(
        &manifests,
        format!(
            r#"apiVersion: axon.io/v1alpha1
kind: Workspace
metadata:
  name: ws
spec:
  repo: {repo}
  ref: main
---
apiVersion: axon.io/v1alpha1
kind: TaskSpawner
metadata:
  name: prs
spec:
  pollInterval: 1s
  when:
    githubIssues:
      types: [pulls]
      labels: [bug]
      webhook:
        secretRef:
          name: hook
        reviewStates: [changes_requested]
  taskTemplate:
    type: claude-code
    image: {agent}
    credentials:
      type: api-key
      secretRef:
        name: key
    workspaceRef:
      name: ws
    promptTemplate: "Review #{{{{.Number}}}}: {{{{.Title}}}} ({{{{.Kind}}}})"
"#,
            agent = agent.display()
        ),
    )
    .expect("manifests");
    env.ok(&["apply", "-f", &manifests.to_string_lossy()]);
    let serve = Serve::start(&env, &gh);
    let addr = serve.addr;
    let send = |event: &str, delivery: &str, body: &[u8]| {
        let (status, text) = deliver(addr, event, delivery, Some(SECRET), body);
        assert_eq!(status, 200, "{text}");
        text
    };

    // Opened: the pull request's Task; its redelivery and a later push: nothing more.
    let opened = pull_payload("pull_request", "opened", 2, &["bug"], None);
    let text = send("pull_request", "pr-opened", &opened);
    assert!(text.contains("prs: created Task prs-2"), "{text}");
    assert_eq!(
        env.task("prs-2").expect("prs-2")["spec"]["prompt"].as_str(),
        Some("Review #2: Update the README with new information. (PR)")
    );
    assert!(send("pull_request", "pr-opened", &opened).contains("already taken"));
    let pushed = pull_payload("pull_request", "synchronize", 2, &["bug"], None);
    let text = send("pull_request", "pr-sync", &pushed);
    assert!(text.contains("Task prs-2 already exists"), "{text}");
    // Closed, or without the label: nothing.
    let closed = pull_payload("pull_request", "closed", 3, &["bug"], None);
    assert!(send("pull_request", "pr-closed", &closed).contains("starts nothing"));
    let unlabelled = pull_payload("pull_request", "ready_for_review", 3, &[], None);
    assert!(send("pull_request", "pr-ready", &unlabelled).contains("skipped"));

    // Reviews: only the states the spawner lists.
    let commented = pull_payload("pull_request_review", "submitted", 4, &["bug"], None);
    let text = send("pull_request_review", "rv-commented", &commented);
    assert!(text.contains("review state \"commented\""), "{text}");
    let changes = pull_payload(
        "pull_request_review",
        "submitted",
        4,
        &["bug"],
        Some("changes_requested"),
    );
    let text = send("pull_request_review", "rv-changes", &changes);
    assert!(text.contains("prs: created Task prs-4"), "{text}");
    assert_eq!(task_names(&env), ["prs-2", "prs-4"]);

    // The poll lists the same pull requests: no second Task for #2, one for the new #3, and
    // the webhook for #3 then finds it.
    gh.add_issue("an issue", "", &["bug"]);
    gh.add_pull("Update the README with new information.", "", &["bug"]);
    gh.add_pull("third", "", &["bug"]);
    assert!(
        poll(Duration::from_secs(30), || task_names(&env).len() == 3),
        "the poll made no Task for #3: {:?} {}",
        task_names(&env),
        serve.log()
    );
    assert_eq!(task_names(&env), ["prs-2", "prs-3", "prs-4"]);
    let reopened = pull_payload("pull_request", "reopened", 3, &["bug"], None);
    let text = send("pull_request", "pr-3", &reopened);
    assert!(text.contains("Task prs-3 already exists"), "{text}");
    assert_eq!(task_names(&env), ["prs-2", "prs-3", "prs-4"]);
}

/// The `event` example (`check_run` or `workflow_run`, action `completed`), for check `id`
/// named `name` that concluded `conclusion` on pull requests `pulls` (on branch `changes`).
fn check_payload(event: &str, id: u64, name: &str, conclusion: &str, pulls: &[u64]) -> Vec<u8> {
    let dir = webhook_examples_dir();
    let mut payload = example(&dir, event, "completed").unwrap_or_else(|e| panic!("{e}"));
    let run = &mut payload[event];
    run["id"] = id.into();
    run["name"] = name.into();
    run["conclusion"] = conclusion.into();
    run["pull_requests"] = pulls
        .iter()
        .map(|n| {
            serde_json::json!({"number": n, "head": {"ref": "changes", "sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821"},
                "base": {"ref": "main"}})
        })
        .collect::<Vec<_>>()
        .into();
    if event == "workflow_run" {
        run["head_branch"] = "changes".into();
    }
    serde_json::to_vec(&payload).expect("json")
}

/// Whether a Task ended.
fn finished(env: &Env, name: &str) -> bool {
    matches!(
        phase(env, name).as_deref(),
        Some("Succeeded" | "Failed" | "Cancelled")
    )
}

#[test]
fn failed_checks_on_a_pull_request_make_one_remediation_task_each_up_to_max_attempts() {
    let env = Env::builder("webhook-checks")
        .config("backend: local\n")
        .build();
    let gh = FakeGitHub::start().expect("fake GitHub");
    let git = GitServer::start().expect("git daemon");
    let repo = hello_world(&git);
    let agent = env.agent("agent.sh", "echo \"fixing: $1\"\nexit 0");
    env.create_secret("key", "ANTHROPIC_API_KEY", "sk-x");
    env.create_secret("hook", "WEBHOOK_SECRET", SECRET);
    let manifests = env.root().join("spawner.yaml");
    let spawner = |name: &str, checks: &str, prompt: &str| {
        format!(
            r#"---
apiVersion: axon.io/v1alpha1
kind: TaskSpawner
metadata:
  name: {name}
spec:
  pollInterval: 1h
  when:
    githubIssues:
      types: [pulls]
      webhook:
        secretRef:
          name: hook
        checks: {checks}
  taskTemplate:
    type: claude-code
    image: {agent}
    credentials:
      type: api-key
      secretRef:
        name: key
    workspaceRef:
      name: ws
{prompt}"#,
            agent = agent.display()
        )
    };
    std::fs::write(
        &manifests,
        format!(
            "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata:\n  name: ws\nspec:\n  repo: {repo}\n  ref: main\n{}\n{}",
            spawner(
                "ci",
                "{names: ['Octo*'], maxAttempts: 2}",
                "    promptTemplate: \"Fix CI of #{{.Number}} ({{.Title}}): {{.Check.Name}} {{.Check.Conclusion}} at {{.Check.URL}} on {{.Check.Branch}}@{{.Check.SHA}}\"\n",
            ),
            spawner("wf", "{names: [Build]}", ""),
        ),
    )
    .expect("manifests");
    env.ok(&["apply", "-f", &manifests.to_string_lossy()]);
    let serve = Serve::start(&env, &gh);
    let addr = serve.addr;
    // The poll (hourly) has run: the pull request appears after it, so only CI makes Tasks.
    assert!(
        poll(Duration::from_secs(30), || gh
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/issues"))
            .count()
            >= 2),
        "the spawners did not poll: {}",
        serve.log()
    );
    let pr = gh.add_pull("Update the README with new information.", "", &[]);
    let send = |event: &str, delivery: &str, body: &[u8]| {
        let (status, text) = deliver(addr, event, delivery, Some(SECRET), body);
        assert_eq!(status, 200, "{text}");
        text
    };

    // A failed check run on the pull request: one Task on its head branch, for the spawner
    // whose names take the check.
    let failed = check_payload(
        "check_run",
        128620228,
        "Octocoders-linter",
        "failure",
        &[pr],
    );
    let text = send("check_run", "ck-1", &failed);
    let first = format!("ci-{pr}-ci128620228");
    assert!(
        text.contains(&format!(
            "ci: #{pr}: created Task {first} on branch changes"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "wf: #{pr}: skipped: check \"Octocoders-linter\" is not in webhook.checks.names"
        )),
        "{text}"
    );
    let task = env.task(&first).expect("the CI Task");
    assert_eq!(task["spec"]["branch"].as_str(), Some("changes"));
    assert_eq!(
        task["spec"]["prompt"].as_str(),
        Some(
            format!(
                "Fix CI of #{pr} (Update the README with new information.): Octocoders-linter failure at https://octocoders.io on changes@ec26c3e57ca3a959ca5aad62de7213c562f8c821"
            )
            .as_str()
        )
    );
    assert_eq!(
        task["metadata"]["annotations"]["axon.io/source-check"].as_str(),
        Some("check_run/128620228")
    );

    // 50 redeliveries (GitHub's own and new delivery ids alike): still one Task.
    assert!(send("check_run", "ck-1", &failed).contains("already taken"));
    for i in 0..50 {
        let text = send("check_run", &format!("ck-re-{i}"), &failed);
        assert!(
            text.contains(&format!("Task {first} already exists")),
            "{text}"
        );
    }
    assert_eq!(task_names(&env), std::slice::from_ref(&first));

    // Success, a check no spawner names, and a check on no pull request: nothing.
    let passed = check_payload("check_run", 5, "Octocoders-linter", "success", &[pr]);
    let text = send("check_run", "ck-ok", &passed);
    assert!(
        text.contains("conclusion \"success\" is not in webhook.checks.conclusions"),
        "{text}"
    );
    let lint = check_payload("check_run", 6, "lint", "failure", &[pr]);
    let text = send("check_run", "ck-lint", &lint);
    assert!(!text.contains("created"), "{text}");
    let orphan = check_payload("check_run", 7, "Octocoders-linter", "failure", &[]);
    assert!(send("check_run", "ck-orphan", &orphan).contains("no pull request"));
    assert_eq!(task_names(&env), std::slice::from_ref(&first));

    // A failed workflow run: the other spawner's Task, its prompt (no .Check) with a line
    // naming the check.
    let build = check_payload("workflow_run", 1589141559, "Build", "timed_out", &[pr]);
    let text = send("workflow_run", "wf-1", &build);
    let wf = format!("wf-{pr}-ci1589141559");
    assert!(
        text.contains(&format!("wf: #{pr}: created Task {wf}")),
        "{text}"
    );
    let prompt = env.task(&wf).expect("wf Task")["spec"]["prompt"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        prompt.ends_with("\n\nCI check \"Build\" concluded timed_out on branch changes: https://github.com/octo-org/octo-repo/actions/runs/1589141559"),
        "{prompt}"
    );

    // The agent's push fails CI again: a second attempt once the first ended, then no more
    // (maxAttempts 2), so a red CI cannot start Tasks forever.
    assert!(
        poll(Duration::from_secs(120), || finished(&env, &first)),
        "{first} did not end: {:?} {}",
        phase(&env, &first),
        serve.log()
    );
    let again = check_payload("check_run", 2, "Octocoders-linter", "failure", &[pr]);
    let text = send("check_run", "ck-2", &again);
    let second = format!("ci-{pr}-ci2");
    assert!(text.contains(&format!("created Task {second}")), "{text}");
    assert_eq!(
        env.task(&second).expect("second")["metadata"]["annotations"]["axon.io/source-generation"]
            .as_str(),
        Some("2")
    );
    assert!(
        poll(Duration::from_secs(120), || finished(&env, &second)),
        "{second} did not end: {}",
        serve.log()
    );
    let third = check_payload("check_run", 3, "Octocoders-linter", "failure", &[pr]);
    let text = send("check_run", "ck-3", &third);
    assert!(
        text.contains(&format!(
            "ci: #{pr}: 2 CI Tasks already (webhook.checks.maxAttempts 2): nothing started"
        )),
        "{text}"
    );
    assert_eq!(task_names(&env), [first, second, wf]);
}
