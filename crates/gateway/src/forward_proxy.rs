//! Absolute-form `http://` requests through the gateway's proxy (`GET http://host/path`).
//!
//! Why: tools send plain-HTTP requests to their `HTTP_PROXY` this way; the gateway
//! authenticates the agent, applies the egress rule, applies the GitHub rules when the host is
//! one of the Workspace's GitHub hosts (a git server reached over `http://`, as in tests or on
//! an internal network), and otherwise forwards the request as it is, streaming both ways and
//! recording it. `https://` in absolute form is refused: HTTPS goes through `CONNECT`.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::audit::{AuditRecord, RequestKind};
use crate::body::{self, Body};
use crate::gateway::Gateway;
use crate::github::{self, dest_of};
use crate::headers::strip_hop_by_hop;
use crate::proxy::{Destination, admit, authenticate};
use crate::relay::{self, UpBody};

/// Serves one absolute-form request.
pub(crate) async fn handle(gateway: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_default();
    let grant =
        match authenticate(&gateway, &method, &authority, &path, req.headers(), started).await {
            Ok(grant) => grant,
            Err(response) => return response,
        };
    if req.uri().scheme_str() != Some("http") {
        return body::text(
            StatusCode::BAD_REQUEST,
            "Axon gateway: only http:// URLs are forwarded in absolute form; HTTPS goes through CONNECT",
        );
    }
    let Some(dest) = dest_of(req.uri(), 80) else {
        return body::text(
            StatusCode::BAD_REQUEST,
            format!("Axon gateway: `{authority}` is not a host the proxy can reach"),
        );
    };
    match admit(&gateway, &grant, &dest, &method, &path, started) {
        Destination::Denied(response) => response,
        Destination::GitHub(target) => github::handle(gateway, grant, target, dest, req).await,
        Destination::Other => {
            let (parts, incoming) = req.into_parts();
            let mut headers = parts.headers;
            strip_hop_by_hop(&mut headers);
            headers.remove(header::EXPECT);
            let record = AuditRecord::new(RequestKind::Egress, &method, &dest.authority(), &path);
            let sent = Arc::new(AtomicU64::new(0));
            let mut upstream =
                Request::new(UpBody::new(Bytes::new(), incoming, sent.clone()).boxed());
            *upstream.method_mut() = parts.method;
            *upstream.uri_mut() = parts.uri;
            *upstream.headers_mut() = headers;
            let token = grant.token.expose().to_string();
            relay::send(
                gateway,
                grant.task.clone(),
                record,
                started,
                upstream,
                sent,
                &[token.as_str()],
            )
            .await
        }
    }
}
