//! `CONNECT host:port` through the gateway's proxy: how an agent reaches HTTPS destinations.
//!
//! Why: HTTPS clients ask their proxy for a tunnel. The gateway authenticates the agent,
//! applies the egress rule to the `CONNECT` host, and then either
//! * intercepts the tunnel when the host is one of the Workspace's GitHub hosts: it answers
//!   TLS itself with the Task CA's leaf for that host ([`crate::intercept`]) and serves each
//!   request inside with the GitHub rules ([`crate::github`]), forwarding to the real host; or
//! * tunnels bytes blindly to any other admitted host, connecting before it answers `200` (so
//!   an unreachable host is a `502`, not a dead tunnel), and records one audit record with the
//!   bytes each way when the tunnel closes.
//!
//! Bounds: the upstream connection must open within [`CONNECT_TIMEOUT`]; a tunnel lives at
//! most [`TUNNEL_MAX_LIFETIME`].

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axon_core::egress::{HostPort, parse_connect_authority};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::audit::{AuditRecord, Decision, RequestKind};
use crate::body::{self, Body};
use crate::gateway::Gateway;
use crate::github;
use crate::grant::TaskGrant;
use crate::intercept::serve_intercepted;
use crate::proxy::{Destination, Proxy, admit, authenticate, millis};

/// How long opening the upstream connection of a blind tunnel may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a tunnel (blind or intercepted) may stay open.
pub const TUNNEL_MAX_LIFETIME: Duration = Duration::from_secs(6 * 3600);

/// Serves one `CONNECT`.
pub(crate) async fn handle(
    proxy: &Proxy,
    gateway: Arc<Gateway>,
    req: Request<Incoming>,
) -> Response<Body> {
    let started = Instant::now();
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_default();
    let grant =
        match authenticate(&gateway, "CONNECT", &authority, "", req.headers(), started).await {
            Ok(grant) => grant,
            Err(response) => return response,
        };
    let dest = match parse_connect_authority(&authority) {
        Ok(dest) => dest,
        Err(e) => {
            let message = format!("Axon gateway: {e}");
            let mut record = AuditRecord::new(RequestKind::Egress, "CONNECT", &authority, "");
            record.status = StatusCode::BAD_REQUEST.as_u16();
            record.decision = Decision::Denied {
                reason: message.clone(),
            };
            gateway.audit(Some(&grant.task), &record);
            return body::text(StatusCode::BAD_REQUEST, message);
        }
    };
    match admit(&gateway, &grant, &dest, "CONNECT", "", started) {
        Destination::Denied(response) => response,
        Destination::GitHub(target) => {
            let ca = match proxy.ca_for(&grant.task) {
                Ok(ca) => ca,
                Err(e) => {
                    tracing::error!(error = %e, task = %grant.task, "gateway: no Task CA");
                    return body::text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("Axon gateway: {e}"),
                    );
                }
            };
            let upgrade = hyper::upgrade::on(req);
            tokio::spawn(async move {
                let upgraded = match upgrade.await {
                    Ok(upgraded) => upgraded,
                    Err(e) => {
                        tracing::debug!(error = %e, "gateway: CONNECT upgrade failed");
                        return;
                    }
                };
                let host = dest.host.clone();
                let service = hyper::service::service_fn(move |inner: Request<Incoming>| {
                    let (gateway, grant, target, dest) =
                        (gateway.clone(), grant.clone(), target.clone(), dest.clone());
                    async move {
                        Ok::<_, Infallible>(
                            github::handle(gateway, grant, target, dest, inner).await,
                        )
                    }
                });
                let served = tokio::time::timeout(
                    TUNNEL_MAX_LIFETIME,
                    serve_intercepted(TokioIo::new(upgraded), &host, &ca, service),
                )
                .await;
                if let Ok(Err(e)) = served {
                    tracing::debug!(error = %e, "gateway: intercepted tunnel ended");
                }
            });
            tunnel_established()
        }
        Destination::Other => blind(gateway, grant, dest, req, started).await,
    }
}

/// Opens the upstream connection, then answers 200 and copies bytes both ways.
async fn blind(
    gateway: Arc<Gateway>,
    grant: Arc<TaskGrant>,
    dest: HostPort,
    req: Request<Incoming>,
    started: Instant,
) -> Response<Body> {
    let mut record = AuditRecord::new(RequestKind::Egress, "CONNECT", &dest.authority(), "");
    let connected = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((dest.host.as_str(), dest.port)),
    )
    .await;
    let mut upstream = match connected {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return unreachable(&gateway, &grant, record, started, e.to_string()),
        Err(_) => {
            return unreachable(
                &gateway,
                &grant,
                record,
                started,
                "connection timed out".into(),
            );
        }
    };
    let _ = upstream.set_nodelay(true);
    let upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        record.status = StatusCode::OK.as_u16();
        match upgrade.await {
            Ok(upgraded) => {
                let mut agent = TokioIo::new(upgraded);
                let copied = tokio::time::timeout(
                    TUNNEL_MAX_LIFETIME,
                    tokio::io::copy_bidirectional(&mut agent, &mut upstream),
                )
                .await;
                if let Ok(Ok((up, down))) = copied {
                    record.bytes_up = up;
                    record.bytes_down = down;
                }
            }
            Err(e) => tracing::debug!(error = %e, "gateway: CONNECT upgrade failed"),
        }
        record.duration_ms = millis(started);
        gateway.audit(Some(&grant.task), &record);
    });
    tunnel_established()
}

fn unreachable(
    gateway: &Gateway,
    grant: &TaskGrant,
    mut record: AuditRecord,
    started: Instant,
    cause: String,
) -> Response<Body> {
    let message = format!("Axon gateway: cannot connect to {}: {cause}", record.host);
    // Admitted but unreachable: allowed (the gateway's decision), status 502.
    record.status = StatusCode::BAD_GATEWAY.as_u16();
    record.duration_ms = millis(started);
    gateway.audit(Some(&grant.task), &record);
    body::text(StatusCode::BAD_GATEWAY, message)
}

/// `200` with no body: the tunnel is open.
fn tunnel_established() -> Response<Body> {
    Response::new(body::empty())
}
