//! The slots through which the server hands proxy requests to the forward-proxy half.
//!
//! Why: one listener serves model calls (origin-form), forward-proxy requests (absolute-form
//! `http://…`) and `CONNECT` tunnels. The server decides which is which; what a proxy request
//! becomes (egress rule, GitHub token swap, TLS interception, a blind tunnel) is the proxy's
//! business, behind [`ProxyHooks`]. Until a proxy is installed, [`NoProxy`] answers 501.

use std::sync::Arc;

use async_trait::async_trait;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::{self, Body};
use crate::gateway::Gateway;

/// Handles the proxy kinds of request. The implementation authenticates the agent
/// (`Proxy-Authorization`), applies the Task's rules, records each request with
/// [`Gateway::audit`], and emits events with [`Gateway::emit`].
#[async_trait]
pub trait ProxyHooks: Send + Sync + 'static {
    /// A `CONNECT host:port` request. To tunnel, answer 200 and take the connection with
    /// `hyper::upgrade::on(req)` in a spawned task (the server serves with upgrades).
    async fn connect(&self, gateway: Arc<Gateway>, req: Request<Incoming>) -> Response<Body>;

    /// An absolute-form request (`GET http://host/path`) to a host other than the gateway.
    async fn forward(&self, gateway: Arc<Gateway>, req: Request<Incoming>) -> Response<Body>;
}

/// No forward proxy: every proxy request is answered 501.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProxy;

#[async_trait]
impl ProxyHooks for NoProxy {
    async fn connect(&self, _gateway: Arc<Gateway>, _req: Request<Incoming>) -> Response<Body> {
        body::text(
            StatusCode::NOT_IMPLEMENTED,
            "the Axon gateway does not proxy CONNECT requests",
        )
    }

    async fn forward(&self, _gateway: Arc<Gateway>, _req: Request<Incoming>) -> Response<Body> {
        body::text(
            StatusCode::NOT_IMPLEMENTED,
            "the Axon gateway does not forward proxy requests",
        )
    }
}
