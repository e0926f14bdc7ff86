//! The gateway's one HTTP/1.1 listener (TCP on 127.0.0.1, or a Unix socket), and which half
//! serves each request.
//!
//! Why: an agent reaches the gateway three ways through one address — as its model base URL
//! (origin-form requests), as its HTTP proxy for `http://` URLs (absolute-form), and as its
//! proxy for HTTPS (`CONNECT`). [`route`] tells them apart; model calls go to the model proxy,
//! the other two to the [`ProxyHooks`](crate::hooks::ProxyHooks). An absolute-form request to
//! the gateway's own address is a model call (Claude Code sends those through `HTTPS_PROXY`).
//!
//! Bounds: a request head larger than the gateway's `max_head` is answered 431, a head not
//! read within [`HEADER_READ_TIMEOUT`] closes the connection. Shutdown is graceful: the
//! listener stops, each connection finishes its request in flight, for at most the grace given.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::body::Body;
use crate::gateway::Gateway;
use crate::{model_proxy, run_state};

/// How long a client may take to send a request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers accepted in one request.
const MAX_HEADERS: usize = 128;

/// Which half serves a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A model call (origin-form, or absolute-form to the gateway itself).
    Model,
    /// `CONNECT host:port`.
    Connect,
    /// An absolute-form request to another host.
    Forward,
}

/// Which half serves a request of `method` to `uri`; `is_own` tells whether an authority is
/// the gateway's own.
pub fn route(method: &Method, uri: &http::Uri, is_own: impl Fn(&str) -> bool) -> Route {
    if method == Method::CONNECT {
        return Route::Connect;
    }
    match uri.authority() {
        Some(authority) if !is_own(authority.as_str()) => Route::Forward,
        _ => Route::Model,
    }
}

/// A running listener. Dropping it stops accepting at once; [`Server::shutdown`] also lets the
/// requests in flight finish.
#[derive(Debug)]
pub struct Server {
    local_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// The bound TCP address (`None` for a Unix socket).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// `http://ADDR` of a TCP listener.
    pub fn base_url(&self) -> Option<String> {
        self.local_addr.map(|a| format!("http://{a}"))
    }

    /// Stops accepting, asks each connection to close after its request in flight, and waits
    /// for them at most `grace` (then aborts what is left).
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(grace, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Gateway {
    /// Serves on a bound TCP listener (127.0.0.1). Its address becomes one of the gateway's own.
    pub fn serve_tcp(self: &Arc<Self>, listener: TcpListener) -> std::io::Result<Server> {
        let addr = listener.local_addr()?;
        self.add_own_authority(addr.to_string());
        if addr.ip().is_loopback() {
            self.add_own_authority(format!("localhost:{}", addr.port()));
        }
        let (tx, rx) = watch::channel(false);
        let gateway = self.clone();
        let task = tokio::spawn(accept_loop(gateway, rx, listener));
        Ok(Server {
            local_addr: Some(addr),
            shutdown: tx,
            task: Some(task),
        })
    }

    /// Serves on a bound Unix socket.
    pub fn serve_unix(self: &Arc<Self>, listener: UnixListener) -> std::io::Result<Server> {
        let (tx, rx) = watch::channel(false);
        let gateway = self.clone();
        let task = tokio::spawn(accept_loop(gateway, rx, listener));
        Ok(Server {
            local_addr: None,
            shutdown: tx,
            task: Some(task),
        })
    }
}

/// A listener the gateway can serve.
trait Listener: Send + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept(&self) -> impl std::future::Future<Output = std::io::Result<Self::Stream>> + Send;
}

impl Listener for TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn accept(&self) -> std::io::Result<Self::Stream> {
        let (stream, _) = TcpListener::accept(self).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

impl Listener for UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn accept(&self) -> std::io::Result<Self::Stream> {
        Ok(UnixListener::accept(self).await?.0)
    }
}

async fn accept_loop<L: Listener>(
    gateway: Arc<Gateway>,
    mut shutdown: watch::Receiver<bool>,
    listener: L,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    connections.spawn(serve_connection(gateway.clone(), stream, shutdown.clone()));
                }
                Err(error) => {
                    // Out of descriptors and the like: back off a little rather than spin.
                    tracing::warn!(%error, "gateway: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    while connections.join_next().await.is_some() {}
}

async fn serve_connection<S>(gateway: Arc<Gateway>, stream: S, mut shutdown: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let gateway = gateway.clone();
        service_fn(move |req| {
            let gateway = gateway.clone();
            async move { Ok::<_, Infallible>(dispatch(gateway, req).await) }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(gateway.max_head())
        .max_headers(MAX_HEADERS);
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => log_connection_end(result),
        _ = shutdown.changed() => {
            connection.as_mut().graceful_shutdown();
            log_connection_end(connection.await);
        }
    }
}

fn log_connection_end(result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        tracing::debug!(%error, "gateway: connection ended with an error");
    }
}

async fn dispatch(gateway: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
    match route(req.method(), req.uri(), |a| gateway.is_own_authority(a)) {
        Route::Connect => gateway.proxy().clone().connect(gateway, req).await,
        Route::Forward => gateway.proxy().clone().forward(gateway, req).await,
        Route::Model if run_state::is_run_state(&req) => run_state::handle(gateway, req).await,
        Route::Model => model_proxy::handle(gateway, req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: Method, uri: &str) -> Route {
        route(&method, &uri.parse().expect("uri"), |a| {
            a == "127.0.0.1:4000"
        })
    }

    #[test]
    fn routes() {
        assert_eq!(r(Method::POST, "/v1/messages"), Route::Model);
        assert_eq!(r(Method::CONNECT, "api.github.com:443"), Route::Connect);
        assert_eq!(r(Method::GET, "http://example.com/x"), Route::Forward);
        assert_eq!(
            r(Method::POST, "http://127.0.0.1:4000/v1/messages"),
            Route::Model
        );
        assert_eq!(
            r(Method::POST, "http://127.0.0.1:4001/v1/messages"),
            Route::Forward
        );
    }
}
