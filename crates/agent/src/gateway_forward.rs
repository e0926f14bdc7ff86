//! The runner's way to the gateway from a sandbox without a network.
//!
//! A Task with a restricted network runs in a network namespace of its own, whose only
//! interface is loopback: nothing on the host is reachable by TCP. The driver binds the
//! directory holding the gateway's Unix socket into the sandbox (read-only) and tells the
//! runner (`AXON_GATEWAY_SOCKET`, `AXON_GATEWAY_PORT`), which, before the agent starts, listens
//! on `127.0.0.1:PORT` inside the namespace and relays each connection to the socket byte for
//! byte. So the agent's model base URL and proxy (`http://127.0.0.1:PORT`) lead to the gateway
//! and nowhere else, without the agent knowing about sockets. At most [`MAX_CONNECTIONS`] are
//! relayed at a time; further ones wait in the listen queue.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::error::AgentError;

/// The gateway's Unix socket, as the sandbox sees it.
pub const ENV_GATEWAY_SOCKET: &str = "AXON_GATEWAY_SOCKET";
/// The loopback port the runner listens on for the agent.
pub const ENV_GATEWAY_PORT: &str = "AXON_GATEWAY_PORT";
/// Most connections relayed at once.
pub const MAX_CONNECTIONS: usize = 256;

/// Where to listen and where to relay to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayForward {
    /// The gateway's Unix socket.
    pub socket: PathBuf,
    /// The port on 127.0.0.1 the agent connects to.
    pub port: u16,
}

impl GatewayForward {
    /// The forward named by the environment (`None` when neither variable is set).
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Option<Self>, AgentError> {
        let get = |name: &str| vars.get(name).filter(|v| !v.trim().is_empty());
        match (get(ENV_GATEWAY_SOCKET), get(ENV_GATEWAY_PORT)) {
            (None, None) => Ok(None),
            (Some(socket), Some(port)) => {
                let port = port
                    .trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| AgentError::InvalidEnv {
                        name: ENV_GATEWAY_PORT,
                        value: port.clone(),
                        reason: "expected a TCP port between 1 and 65535".into(),
                    })?;
                Ok(Some(GatewayForward {
                    socket: PathBuf::from(socket),
                    port,
                }))
            }
            (None, Some(_)) => Err(AgentError::MissingEnv {
                name: ENV_GATEWAY_SOCKET,
            }),
            (Some(_), None) => Err(AgentError::MissingEnv {
                name: ENV_GATEWAY_PORT,
            }),
        }
    }

    /// The variables that name this forward (for the driver).
    pub fn vars(&self) -> [(String, String); 2] {
        [
            (
                ENV_GATEWAY_SOCKET.to_string(),
                self.socket.display().to_string(),
            ),
            (ENV_GATEWAY_PORT.to_string(), self.port.to_string()),
        ]
    }
}

/// A running relay; it stops (with every connection it relays) when dropped.
#[derive(Debug)]
pub struct Forwarder {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Forwarder {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Listen on `127.0.0.1:PORT` and relay each connection to the socket (at most `max` at once).
/// Port 0 picks a free one (tests). Fails when the socket is missing or the port is taken.
pub async fn start(forward: &GatewayForward, max: usize) -> Result<Forwarder, AgentError> {
    check_socket(&forward.socket)?;
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, forward.port))
        .await
        .map_err(|source| AgentError::GatewayListen {
            port: forward.port,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| AgentError::GatewayListen {
            port: forward.port,
            source,
        })?;
    let socket = Arc::new(forward.socket.clone());
    let permits = Arc::new(Semaphore::new(max.max(1)));
    let accept = tokio::spawn(async move {
        let mut relays = tokio::task::JoinSet::new();
        loop {
            // Wait for room before accepting: a full relay leaves clients in the listen queue.
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let client = tokio::select! {
                accepted = listener.accept() => accepted,
                // Reap finished relays so the set does not grow.
                Some(_) = relays.join_next(), if !relays.is_empty() => continue,
            };
            let Ok((client, _)) = client else {
                // A transient accept error (EMFILE, a reset): keep serving.
                continue;
            };
            let socket = socket.clone();
            relays.spawn(async move {
                relay(client, &socket).await;
                drop(permit);
            });
        }
    });
    Ok(Forwarder { addr, accept })
}

/// A clear error now rather than a refused connection for every request of the agent.
fn check_socket(path: &Path) -> Result<(), AgentError> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_socket() => Ok(()),
        Ok(_) => Err(AgentError::GatewaySocket {
            path: path.to_path_buf(),
            reason: "it is not a Unix socket".into(),
        }),
        Err(e) => Err(AgentError::GatewaySocket {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

/// Copy both ways until each side has closed; a gateway that is not there closes the client.
async fn relay(mut client: TcpStream, socket: &Path) {
    let Ok(mut upstream) = UnixStream::connect(socket).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixListener;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_forward_is_read_from_the_environment() {
        assert_eq!(GatewayForward::from_vars(&vars(&[])).expect("none"), None);
        let f = GatewayForward::from_vars(&vars(&[
            (ENV_GATEWAY_SOCKET, "/run/gw/gateway.sock"),
            (ENV_GATEWAY_PORT, "8911"),
        ]))
        .expect("valid")
        .expect("some");
        assert_eq!(f.port, 8911);
        assert_eq!(
            GatewayForward::from_vars(&f.vars().into()).expect("back"),
            Some(f)
        );
        for bad in [
            &[(ENV_GATEWAY_SOCKET, "/s"), (ENV_GATEWAY_PORT, "0")][..],
            &[(ENV_GATEWAY_SOCKET, "/s"), (ENV_GATEWAY_PORT, "http")],
            &[(ENV_GATEWAY_SOCKET, "/s")],
            &[(ENV_GATEWAY_PORT, "80")],
        ] {
            let e = GatewayForward::from_vars(&vars(bad)).expect_err("refused");
            assert!(e.to_string().contains("AXON_GATEWAY_"), "{e}");
        }
    }

    /// Several clients at once, each with its own connection to the socket, bytes both ways
    /// and half-closes passed on; a missing socket is refused at start.
    #[tokio::test]
    async fn connections_are_relayed_to_the_socket() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("gw.sock");
        let missing = start(
            &GatewayForward {
                socket: path.clone(),
                port: 0,
            },
            4,
        )
        .await
        .expect_err("no socket yet");
        assert!(missing.to_string().contains("gw.sock"), "{missing}");
        let server = UnixListener::bind(&path).expect("bind");
        // An echo server that prefixes what it read, after the client closed its side.
        let serving = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = server.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    let _ = s.read_to_end(&mut got).await;
                    let _ = s.write_all(b"echo:").await;
                    let _ = s.write_all(&got).await;
                });
            }
        });
        let fwd = start(
            &GatewayForward {
                socket: path.clone(),
                port: 0,
            },
            2,
        )
        .await
        .expect("start");
        let addr = fwd.local_addr();
        assert!(addr.ip().is_loopback());
        // Five clients at once through a relay of two: the others wait in the listen queue.
        let mut clients = tokio::task::JoinSet::new();
        for i in 0..5 {
            clients.spawn(async move {
                let mut c = TcpStream::connect(addr).await.expect("connect");
                let msg = format!("hello {i}");
                c.write_all(msg.as_bytes()).await.expect("write");
                c.shutdown().await.expect("half-close");
                let mut back = String::new();
                c.read_to_string(&mut back).await.expect("read");
                assert_eq!(back, format!("echo:{msg}"));
            });
        }
        tokio::time::timeout(std::time::Duration::from_secs(20), async {
            while let Some(done) = clients.join_next().await {
                done.expect("client");
            }
        })
        .await
        .expect("all relayed in time");
        drop(fwd);
        // Dropped: nothing listens any more.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while TcpStream::connect(addr).await.is_ok() {
            assert!(std::time::Instant::now() < deadline, "still listening");
            tokio::task::yield_now().await;
        }
        serving.abort();
    }
}
