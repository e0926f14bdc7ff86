//! What a Task's gateway saw and spent, through the real `axon` binary on the local backend: a
//! custom agent (a shell script, `axon run --image`) makes HTTP requests through its proxy
//! environment (`curl` honours `http_proxy`) to a web server on 127.0.0.1 started by the test,
//! and one model call to the gateway's own endpoint (`$AXON_MODEL_BASE_URL`, its gateway token
//! in `x-api-key`), which the gateway forwards to the fake model server given as
//! `--model-base-url` with the real key.
//!
//! - `axon logs T -f` prints the spend while the agent still runs (from status, which the
//!   gateway's measure feeds), and `axon get tasks` and `axon get task T -w` show it in their
//!   USAGE column;
//! - `axon run --wait` ends with the usage, saying the gateway measured it;
//! - `axon logs T --requests` lists the three requests with their host, path and status, as a
//!   table (followed with `-f` while the agent runs) and as JSON lines, and neither those nor the record file hold the key, the gateway
//!   token (`axon-gw-…`) or a query string.

mod support;

use axon_testsupport::model_server::{FakeModelServer, Script};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{DEADLINE, Env, str_at, text, until};

const SECRET: &str = "sk-requests-VERY-secret-4242";
/// A value the agent puts in a query string: a record never holds a query.
const QUERY_VALUE: &str = "query-value-9191";
const INPUT: u64 = 1234;
const OUTPUT: u64 = 56;

/// A web server on 127.0.0.1: `/hello` answers 200, anything else 404; it records each
/// request line and stops when dropped.
struct Site {
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Site {
    fn start() -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopping) = (lines.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(conn) = conn {
                    answer(conn, &seen);
                }
            }
        });
        Site {
            port,
            lines,
            stop,
            thread: Some(thread),
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(conn: TcpStream, seen: &Mutex<Vec<String>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(conn);
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).map_or(true, |n| n == 0) || h.trim().is_empty() {
            break;
        }
    }
    let line = first.trim().to_string();
    let (status, body) = if line.starts_with("GET /hello") {
        ("200 OK", "hello")
    } else {
        ("404 Not Found", "no such page")
    };
    if let Ok(mut l) = seen.lock() {
        l.push(line);
    }
    let _ = reader.get_mut().write_all(
        format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

/// A child `axon` whose standard output is read into a buffer as it comes; killed (by its pid)
/// when dropped.
struct Watched {
    child: Child,
    out: Arc<Mutex<String>>,
    /// Hears when standard output has ended.
    closed: std::sync::mpsc::Receiver<()>,
}

impl Watched {
    fn spawn(env: &Env, args: &[&str]) -> Watched {
        let mut child = env
            .axon_process()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn axon");
        let stdout = child.stdout.take().expect("stdout");
        let out = Arc::new(Mutex::new(String::new()));
        let sink = out.clone();
        let (tx, closed) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
            let _ = tx.send(());
        });
        Watched { child, out, closed }
    }

    fn output(&self) -> String {
        self.out.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits (bounded) for the process to end; whether it succeeded.
    fn finish(&mut self) -> bool {
        let mut status = None;
        until("the axon command to end", || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        // Its last lines may still be on their way through the reader.
        assert!(
            self.closed.recv_timeout(DEADLINE).is_ok(),
            "standard output still open"
        );
        status.is_some_and(|s| s.success())
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The agent: two requests to the site through the proxy, one model call to the gateway, then
/// it waits at its gate (a file in its work tree).
const AGENT: &str = r#"echo "site: $(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SITE_PORT/hello?token=$QUERY_VALUE")"
echo "missing: $(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SITE_PORT/missing")"
echo "model: $(curl -sS -o /dev/null -w '%{http_code}' -X POST "$AXON_MODEL_BASE_URL/v1/messages" \
  -H "x-api-key: $ANTHROPIC_API_KEY" -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' \
  -d '{"model":"claude-sonnet-4-5","max_tokens":32,"messages":[{"role":"user","content":"hello"}]}')"
touch waiting
while [ ! -e gate ]; do sleep 0.05; done
echo "agent done""#;

/// The work tree of Task `name` (where its gate goes).
fn work_tree(env: &Env, name: &str) -> Option<PathBuf> {
    let t = env.task(name)?;
    Some(
        env.home()
            .join("tasks")
            .join(str_at(&t, "/metadata/uid")?)
            .join("work"),
    )
}

fn records(json_lines: &str) -> Vec<Value> {
    json_lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn requests_and_spend_of_a_task_through_its_gateway() {
    let site = Site::start();
    let model =
        FakeModelServer::start(Script::new().text("hi").usage(INPUT, OUTPUT)).expect("model");
    let env = Env::builder("requests").build();
    env.create_secret("key", "ANTHROPIC_API_KEY", SECRET);
    let agent = env.agent("agent.sh", AGENT);
    let agent = agent.to_string_lossy();
    let site_port = format!("SITE_PORT={}", site.port);
    let query = format!("QUERY_VALUE={QUERY_VALUE}");
    let mut run = Watched::spawn(
        &env,
        &[
            "run",
            "--name",
            "calls",
            "-p",
            "call around",
            "--secret",
            "key",
            "--image",
            &agent,
            "--model-base-url",
            &model.base_url(),
            "--env",
            &site_port,
            "--env",
            &query,
            "--wait",
        ],
    );
    until("Task calls created", || env.task("calls").is_some());

    // Live: `logs -f` prints the spend while the agent still waits at its gate, and `get -w`
    // shows it in a row.
    let watch = Watched::spawn(&env, &["get", "task", "calls", "-w"]);
    let mut follow = Watched::spawn(&env, &["logs", "calls", "-f"]);
    let mut follow_requests = Watched::spawn(&env, &["logs", "calls", "--requests", "-f"]);
    let spend = format!("axon: spend 1 turn, {INPUT} in / {OUTPUT} out tokens");
    until("the spend line of logs -f", || {
        follow.output().contains(&spend)
    });
    let waiting = work_tree(&env, "calls").expect("work tree");
    assert!(waiting.join("waiting").exists(), "the agent made its calls");
    let task = env.task("calls").expect("task");
    assert_eq!(str_at(&task, "/status/phase"), Some("Running"), "{task:#}");
    let tokens = format!("{} tok", INPUT + OUTPUT);
    let table = env.ok(&["get", "tasks"]);
    assert!(
        table.lines().next().is_some_and(|h| h.contains("USAGE"))
            && table
                .lines()
                .any(|l| l.starts_with("calls") && l.contains("Running") && l.contains(&tokens)),
        "{table}"
    );

    until("get -w to show the spend", || {
        watch
            .output()
            .lines()
            .any(|l| l.starts_with("calls") && l.contains("Running") && l.contains(&tokens))
    });
    drop(watch);
    until("logs --requests -f to show the model call", || {
        follow_requests.output().contains("/v1/messages")
    });

    std::fs::write(waiting.join("gate"), "").expect("open the gate");
    assert!(run.finish(), "axon run: {}", run.output());
    assert!(follow.finish(), "axon logs -f: {}", follow.output());
    assert!(
        follow_requests.finish(),
        "axon logs --requests -f: {}",
        follow_requests.output()
    );
    let followed_requests = follow_requests.output();
    assert!(
        followed_requests.starts_with("TIME")
            && ["/hello", "/missing", "/v1/messages"]
                .iter()
                .all(|p| followed_requests.matches(p).count() == 1),
        "each request once: {followed_requests}"
    );
    let followed = follow.output();
    assert!(followed.contains("agent done"), "{followed}");
    assert_eq!(
        followed.matches("axon: spend").count(),
        1,
        "one line per change: {followed}"
    );
    let summary = run.output();
    assert!(
        summary.contains(&format!(
            "usage (measured by the Axon gateway): 1 model request, 1 turn, {INPUT} in / {OUTPUT} out tokens"
        )),
        "{summary}"
    );
    let task = env.task("calls").expect("task");
    assert_eq!(
        str_at(&task, "/status/phase"),
        Some("Succeeded"),
        "{task:#}"
    );
    let log = env.ok(&["logs", "calls"]);
    assert!(
        log.contains("site: 200") && log.contains("missing: 404") && log.contains("model: 200"),
        "the agent's calls: {log}"
    );

    // The request log, as JSON lines: the three requests, each with its host, path and status.
    let json = env.ok(&["logs", "calls", "--requests", "-o", "json"]);
    let all = records(&json);
    let find = |path: &str| -> &Value {
        all.iter()
            .find(|r| r["path"] == path)
            .unwrap_or_else(|| panic!("no record of {path}: {json}"))
    };
    let site_host = format!("127.0.0.1:{}", site.port);
    for (path, status) in [("/hello", 200), ("/missing", 404)] {
        let r = find(path);
        assert_eq!(r["kind"], "egress", "{r}");
        assert_eq!(r["method"], "GET", "{r}");
        assert_eq!(r["host"], site_host.as_str(), "{r}");
        assert_eq!(r["status"], status, "{r}");
        assert_eq!(r["decision"], "allowed", "{r}");
        assert!(r["bytesDown"].as_u64().is_some_and(|b| b > 0), "{r}");
    }
    let m = find("/v1/messages");
    assert_eq!(m["kind"], "model", "{m}");
    assert_eq!(m["method"], "POST", "{m}");
    assert_eq!(m["host"], model.addr().to_string().as_str(), "{m}");
    assert_eq!(m["status"], 200, "{m}");
    assert!(m["bytesUp"].as_u64().is_some_and(|b| b > 0), "{m}");
    assert_eq!(
        env.ok(&["logs", "calls", "--requests", "--raw"]),
        json,
        "--raw prints the same JSON lines"
    );

    // As a table.
    let table = env.ok(&["logs", "calls", "--requests"]);
    let header = table.lines().next().unwrap_or_default();
    for column in [
        "TIME",
        "KIND",
        "METHOD",
        "HOST",
        "PATH",
        "STATUS",
        "BYTES ↑/↓",
        "DURATION",
        "DECISION",
    ] {
        assert!(header.contains(column), "{table}");
    }
    let row = |path: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().any(|c| c == path))
            .unwrap_or_else(|| panic!("no row for {path}: {table}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    let hello = row("/hello");
    assert_eq!(
        hello[1..6],
        ["egress", "GET", site_host.as_str(), "/hello", "200"],
        "{table}"
    );
    assert_eq!(hello.last(), Some(&"allowed"), "{table}");
    assert_eq!(row("/missing")[5], "404", "{table}");
    let model_row = row("/v1/messages");
    assert_eq!(model_row[1..3], ["model", "POST"], "{table}");
    assert_eq!(model_row[5], "200", "{table}");

    // The requests really went where the records say.
    let seen = site.lines();
    assert!(
        seen.iter().any(|l| l.starts_with("GET /hello?token="))
            && seen.iter().any(|l| l.starts_with("GET /missing")),
        "{seen:?}"
    );
    let served = model.requests();
    assert!(
        served.iter().any(|r| r.path == "/v1/messages"
            && r.headers.get("x-api-key").map(String::as_str) == Some(SECRET)),
        "the gateway put the real key on the model call"
    );

    // No secret anywhere in what is shown or recorded.
    let run_dir = work_tree(&env, "calls")
        .and_then(|w| w.parent().map(PathBuf::from))
        .expect("run dir");
    let file = std::fs::read_to_string(run_dir.join("requests.jsonl")).expect("requests.jsonl");
    for (what, s) in [
        ("--requests", &table),
        ("--requests -o json", &json),
        ("requests.jsonl", &file),
        ("logs -f", &followed),
        ("--requests -f", &followed_requests),
    ] {
        for needle in [SECRET, "axon-gw-", QUERY_VALUE, "x-api-key"] {
            assert!(!s.contains(needle), "{what} shows {needle:?}:\n{s}");
        }
    }
    let out = env.output(&["logs", "calls", "--requests", "-o", "yaml"]);
    assert!(
        !out.status.success() && text(&out).contains("-o json or --raw"),
        "{}",
        text(&out)
    );
}
