//! A local Task's restricted network: what the sandbox and the runner are given so the agent
//! reaches the gateway and nothing else.
//!
//! The sandbox gets a network namespace of its own (only loopback, see
//! [`crate::sandbox::SandboxNetwork::Isolated`]); the directory holding the gateway's Unix
//! socket is bound into it read-only at its own path; and `axon agent run` is told
//! (`AXON_GATEWAY_SOCKET`, `AXON_GATEWAY_PORT`) to relay `127.0.0.1:PORT` inside the namespace
//! to that socket ([`axon_agent::gateway_forward`]). The socket itself must let the sandbox's
//! uid connect (a root caller's agent runs as `nobody`): that is the gateway's to arrange.
//! Without bubblewrap there is no namespace to make, so a restricted network is refused rather
//! than silently open.

use crate::sandbox::{SandboxMode, SandboxNetwork};
use axon_agent::gateway_forward::GatewayForward;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The port the runner listens on inside an isolated sandbox, unless told otherwise. Any port
/// is free there: the namespace holds nothing else.
pub const DEFAULT_GATEWAY_PORT: u16 = 8911;

/// A restricted network for a local Task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IsolatedNetwork {
    /// The gateway's Unix socket on the host (absolute); `None`: no way out at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_socket: Option<PathBuf>,
    /// The loopback port inside the sandbox that leads to the socket.
    #[serde(default = "default_port")]
    pub gateway_port: u16,
}

fn default_port() -> u16 {
    DEFAULT_GATEWAY_PORT
}

/// What the supervisor adds to a sandbox for its network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkSetup {
    /// The sandbox's network.
    pub network: SandboxNetwork,
    /// Directories to bind read-only (the socket's).
    pub read_only: Vec<PathBuf>,
    /// Variables for the runner.
    pub env: Vec<(String, String)>,
}

/// The sandbox's network: the host's without a restriction, else an isolated namespace with
/// the way to the gateway. An `Err` is the Task's failure message.
pub fn network_setup(
    restricted: Option<&IsolatedNetwork>,
    sandbox: SandboxMode,
) -> Result<NetworkSetup, String> {
    let Some(r) = restricted else {
        return Ok(NetworkSetup::default());
    };
    if sandbox == SandboxMode::None {
        return Err("a restricted network needs the bubblewrap sandbox: run without --sandbox none, or use network mode open".into());
    }
    let mut setup = NetworkSetup {
        network: SandboxNetwork::Isolated,
        ..NetworkSetup::default()
    };
    if let Some(socket) = &r.gateway_socket {
        let dir = socket
            .parent()
            .filter(|d| socket.is_absolute() && d.parent().is_some())
            .ok_or_else(|| {
                format!(
                    "the gateway socket {} must be an absolute path below a directory other than /",
                    socket.display()
                )
            })?;
        if r.gateway_port == 0 {
            return Err("the gateway port inside the sandbox must not be 0".into());
        }
        setup.read_only.push(dir.to_path_buf());
        let forward = GatewayForward {
            socket: socket.clone(),
            port: r.gateway_port,
        };
        setup.env.extend(forward.vars());
    }
    Ok(setup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_restricted_and_refused() {
        assert_eq!(
            network_setup(None, SandboxMode::None),
            Ok(NetworkSetup::default())
        );
        let r = IsolatedNetwork {
            gateway_socket: Some("/h/.axon/tasks/u/gateway/gateway.sock".into()),
            gateway_port: 8911,
        };
        let s = network_setup(Some(&r), SandboxMode::Bubblewrap).expect("restricted");
        assert_eq!(s.network, SandboxNetwork::Isolated);
        assert_eq!(s.read_only, vec![PathBuf::from("/h/.axon/tasks/u/gateway")]);
        assert_eq!(
            s.env,
            vec![
                (
                    "AXON_GATEWAY_SOCKET".to_string(),
                    "/h/.axon/tasks/u/gateway/gateway.sock".to_string()
                ),
                ("AXON_GATEWAY_PORT".to_string(), "8911".to_string()),
            ]
        );
        let none = IsolatedNetwork {
            gateway_socket: None,
            gateway_port: 8911,
        };
        let s = network_setup(Some(&none), SandboxMode::Bubblewrap).expect("no way out");
        assert_eq!(
            (s.network, s.read_only.len(), s.env.len()),
            (SandboxNetwork::Isolated, 0, 0)
        );
        let e = network_setup(Some(&r), SandboxMode::None).expect_err("no sandbox");
        assert!(e.contains("bubblewrap"), "{e}");
        for bad in ["gateway.sock", "/gateway.sock"] {
            let r = IsolatedNetwork {
                gateway_socket: Some(bad.into()),
                gateway_port: 8911,
            };
            assert!(
                network_setup(Some(&r), SandboxMode::Bubblewrap).is_err(),
                "{bad}"
            );
        }
        let old: IsolatedNetwork =
            serde_json::from_value(serde_json::json!({"gatewaySocket": "/s/g.sock"}))
                .expect("port defaults");
        assert_eq!(old.gateway_port, DEFAULT_GATEWAY_PORT);
    }
}
