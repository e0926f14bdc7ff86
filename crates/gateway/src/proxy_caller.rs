//! The first step of every request to the gateway's proxy (`CONNECT` or absolute-form
//! `http://`): the destination it names and the Task it comes from.
//!
//! Why: both kinds of proxy request start the same way — take the `host:port` the request
//! names, then authenticate the agent by its gateway token in `Proxy-Authorization` (refused
//! `407` and recorded when it carries none) — so that start is written once here.

use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response};

use crate::body::Body;
use crate::gateway::Gateway;
use crate::grant::TaskGrant;
use crate::proxy::authenticate;

/// The authority (`host:port`, empty when the request names none) of `req` and the grant of
/// the Task whose token it carries; or the `407` to answer (already recorded, with `method`
/// and `path`).
pub(crate) async fn authority_and_grant<B>(
    gateway: &Gateway,
    req: &Request<B>,
    method: &str,
    path: &str,
    started: Instant,
) -> Result<(String, Arc<TaskGrant>), Response<Body>> {
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_default();
    let grant = authenticate(gateway, method, &authority, path, req.headers(), started).await?;
    Ok((authority, grant))
}
