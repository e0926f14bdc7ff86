//! A restricted network on the local backend, with real bubblewrap: the sandbox has a network
//! namespace of its own (only loopback), and `axon agent run` relays 127.0.0.1:PORT inside it
//! to the gateway's Unix socket bound in from the host.
//!
//! Why: with a restricted network the gateway must be the agent's only way out. Judged by the
//! host's servers: the one on the host's 127.0.0.1 sees nothing from a restricted agent (and
//! sees the same agent with the host's network, so the probe itself works); the one on the
//! Unix socket sees the agent's request, relayed.

mod outside;

use axon_api::TaskPhase;
use axon_local::network::IsolatedNetwork;
use outside::Env;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The port the agent uses inside the sandbox.
const GATEWAY_PORT: u16 = 8911;

/// A one-answer-per-connection HTTP server that records request lines.
#[derive(Clone, Default)]
struct Seen {
    count: Arc<AtomicUsize>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Seen {
    fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

fn answer<S: std::io::Read + Write>(stream: S, body: &str, seen: &Seen) {
    let mut reader = BufReader::new(stream);
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
    seen.count.fetch_add(1, Ordering::SeqCst);
    let line = first.trim().to_string();
    if let Ok(mut l) = seen.lines.lock() {
        l.push(line.clone());
    }
    let body = format!("{body} {line}");
    let _ = reader.get_mut().write_all(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

fn tcp_server() -> (u16, Seen) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Seen::default();
    let s = seen.clone();
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            answer(c, "host", &s);
        }
    });
    (port, seen)
}

fn unix_server(path: &Path) -> Seen {
    let listener = std::os::unix::net::UnixListener::bind(path).expect("bind socket");
    // The agent of a root caller runs as nobody: it must be allowed to connect.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let seen = Seen::default();
    let s = seen.clone();
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            answer(c, "via-gateway", &s);
        }
    });
    seen
}

#[tokio::test]
async fn a_restricted_sandbox_reaches_the_gateway_socket_and_nothing_else() {
    let env = Env::new("axon-net-").await;
    let (host_port, host) = tcp_server();
    let gw_dir = env.scratch().join("gateway");
    std::fs::create_dir_all(&gw_dir).expect("gateway dir");
    std::fs::set_permissions(&gw_dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let socket = gw_dir.join("gateway.sock");
    let gateway = unix_server(&socket);
    let agent = env.agent(
        "probe.sh",
        &format!(
            r#"curl --noproxy '*' -sS -m 5 -o host.out http://127.0.0.1:{host_port}/direct 2>host.err; echo $? > host.code
curl --noproxy '*' -sS -m 20 -o gw.out -X POST http://127.0.0.1:{GATEWAY_PORT}/v1/messages 2>gw.err; echo $? > gw.code
echo "${{AXON_GATEWAY_SOCKET:-unset}}" > gw.var
cat /proc/net/if_inet6 /proc/net/dev > net.txt 2>&1
exit 0"#
        ),
    );

    env.backend.set_isolated_network(Some(IsolatedNetwork {
        gateway_socket: Some(socket.clone()),
        gateway_port: GATEWAY_PORT,
    }));
    env.run("restricted", &agent, "").await;
    let t = env.wait("restricted").await;
    let log = env.log("restricted").await;
    assert_eq!(
        t.status.as_ref().and_then(|s| s.phase),
        Some(TaskPhase::Succeeded),
        "{log}"
    );
    let work = env.work(&t);
    let read = |f: &str| std::fs::read_to_string(work.join(f)).unwrap_or_default();
    // The host's loopback server is out of reach (nothing listens on that port in the
    // namespace: connection refused, curl's 7).
    assert_eq!(read("host.code").trim(), "7", "{}", read("host.err"));
    assert_eq!(host.count(), 0);
    // The gateway's socket is reached through the relay.
    assert_eq!(read("gw.code").trim(), "0", "{} {log}", read("gw.err"));
    assert_eq!(read("gw.out"), "via-gateway POST /v1/messages HTTP/1.1");
    assert_eq!(gateway.count(), 1);
    // The agent is not told about the socket; its namespace has loopback only.
    assert_eq!(read("gw.var").trim(), "unset");
    let net = read("net.txt");
    let interfaces: Vec<&str> = net
        .lines()
        .filter_map(|l| l.split_once(':').map(|(i, _)| i.trim()))
        .filter(|i| !i.is_empty() && !i.contains('|') && !i.contains(' '))
        .collect();
    assert_eq!(interfaces, vec!["lo"], "{net}");

    // The same agent with the host's network reaches the host's server: the probe is sound.
    env.backend.set_isolated_network(None);
    env.run("open", &agent, "").await;
    let t = env.wait("open").await;
    let work = env.work(&t);
    let read = |f: &str| std::fs::read_to_string(work.join(f)).unwrap_or_default();
    assert_eq!(read("host.code").trim(), "0", "{}", read("host.err"));
    assert_eq!(read("host.out"), "host GET /direct HTTP/1.1");
    assert_eq!(host.count(), 1);
    assert_eq!(gateway.count(), 1);
}

/// Restricted without a gateway: no way out at all, and the run still works.
#[tokio::test]
async fn a_restricted_sandbox_without_a_gateway_has_no_network() {
    let env = Env::new("axon-net-").await;
    let (host_port, host) = tcp_server();
    let agent = env.agent(
        "probe.sh",
        &format!(
            "curl --noproxy '*' -sS -m 5 -o /dev/null http://127.0.0.1:{host_port}/ 2>/dev/null; echo $? > host.code"
        ),
    );
    env.backend.set_isolated_network(Some(IsolatedNetwork {
        gateway_socket: None,
        gateway_port: GATEWAY_PORT,
    }));
    env.run("sealed", &agent, "").await;
    let t = env.wait("sealed").await;
    assert_eq!(
        t.status.as_ref().and_then(|s| s.phase),
        Some(TaskPhase::Succeeded)
    );
    let code = std::fs::read_to_string(env.work(&t).join("host.code")).expect("code");
    assert_eq!(code.trim(), "7");
    assert_eq!(host.count(), 0);
}
