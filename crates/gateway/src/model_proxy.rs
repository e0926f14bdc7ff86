//! Model calls: token → grant, budget check, credential swap, streamed forwarding with metering.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::{self, Body};
use crate::gateway::Gateway;

/// Serves one model call.
pub async fn handle(_gateway: Arc<Gateway>, _req: Request<Incoming>) -> Response<Body> {
    body::text(StatusCode::NOT_IMPLEMENTED, "model proxy: not yet")
}
