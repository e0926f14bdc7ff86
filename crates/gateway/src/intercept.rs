//! TLS interception of a `CONNECT` tunnel to a GitHub host: the gateway is the TLS server the
//! agent talks to, and serves the HTTP/1.1 requests inside with a service of its own.
//!
//! Why: the GitHub rules (token swap, scope, push policy) need the requests in clear; a blind
//! tunnel would carry the agent's gateway token to GitHub unchanged. The certificate is minted
//! for the host the agent asked `CONNECT` for ([`TaskCa::server_config`]), so a client that
//! names another host in its SNI simply fails to verify; the service is told the `CONNECT`
//! host, never the inner `Host` header, and forwards only there.
//!
//! Bounds: the handshake must finish within [`HANDSHAKE_TIMEOUT`] and each request head within
//! [`HEADER_READ_TIMEOUT`]; only HTTP/1.1 is offered by ALPN.

use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::ca::{CaError, TaskCa};

/// How long the agent may take to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// How long the agent may take to send a request head inside the tunnel.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors ending an intercepted connection.
#[derive(Debug, thiserror::Error)]
pub enum InterceptError {
    /// No certificate could be made for the host.
    #[error(transparent)]
    Ca(#[from] CaError),
    /// The handshake failed (typically: the agent does not trust the Task CA — its
    /// `SSL_CERT_FILE`/`GIT_SSL_CAINFO` must name the gateway's CA bundle).
    #[error(
        "TLS handshake with the agent for {host} failed: {source} (does the agent trust the Task's CA bundle?)"
    )]
    Handshake {
        /// The intercepted host.
        host: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The handshake took too long.
    #[error("TLS handshake with the agent for {0} timed out")]
    HandshakeTimeout(String),
    /// Serving HTTP inside the tunnel failed.
    #[error("HTTP inside the intercepted tunnel to {host}: {source}")]
    Http {
        /// The intercepted host.
        host: String,
        /// The cause.
        source: hyper::Error,
    },
}

/// Accepts TLS on `io` as `host` with a leaf of `ca`, then serves HTTP/1.1 requests on it with
/// `service` until the agent closes the connection.
pub async fn serve_intercepted<IO, S, B>(
    io: IO,
    host: &str,
    ca: &TaskCa,
    service: S,
) -> Result<(), InterceptError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let config = ca.server_config(host)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(source)) => {
            return Err(InterceptError::Handshake {
                host: host.to_string(),
                source,
            });
        }
        Err(_) => return Err(InterceptError::HandshakeTimeout(host.to_string())),
    };
    http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(tls), service)
        .await
        .map_err(|source| InterceptError::Http {
            host: host.to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::Full;

    /// A real client trusting only the Task CA reaches an intercepted host and gets the answer
    /// of the gateway's service; a client trusting only the system roots refuses it.
    #[tokio::test]
    async fn a_client_trusting_the_task_ca_gets_the_service_answer() {
        let ca = std::sync::Arc::new(TaskCa::generate("default/t1").expect("ca"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server_ca = ca.clone();
        let server = tokio::spawn(async move {
            for _ in 0..2 {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let ca = server_ca.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                        let text = format!("intercepted {} {}", req.method(), req.uri().path());
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
                    });
                    let _ = serve_intercepted(stream, "github.test", &ca, service).await;
                });
            }
        });

        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der().clone()).expect("root");
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .resolve("github.test", ([127, 0, 0, 1], port).into())
            .no_proxy()
            .build()
            .expect("client");
        let answer = client
            .get(format!("https://github.test:{port}/repos/o/r"))
            .send()
            .await
            .expect("request through interception");
        assert_eq!(answer.status(), 200);
        assert_eq!(
            answer.text().await.expect("body"),
            "intercepted GET /repos/o/r"
        );

        // Without the Task CA the same request fails verification.
        let stranger = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(stranger)
            .resolve("github.test", ([127, 0, 0, 1], port).into())
            .no_proxy()
            .build()
            .expect("client");
        assert!(
            client
                .get(format!("https://github.test:{port}/"))
                .send()
                .await
                .is_err()
        );
        server.abort();
    }

    #[test]
    fn leaves_are_cached_per_host_and_the_bundle_ends_with_the_ca() {
        let ca = TaskCa::generate("ns/task").expect("ca");
        assert_eq!(ca.name(), "Axon gateway CA for ns/task");
        let a = ca.server_config("GitHub.com.").expect("leaf");
        let b = ca.server_config("github.com").expect("leaf");
        assert!(std::sync::Arc::ptr_eq(&a, &b));
        let c = ca.server_config("127.0.0.1").expect("ip leaf");
        assert!(!std::sync::Arc::ptr_eq(&a, &c));
        let bundle = ca.bundle_with_system_roots();
        assert!(bundle.ends_with(ca.cert_pem()));
        if crate::ca::system_ca_pem().is_some() {
            assert!(bundle.matches("BEGIN CERTIFICATE").count() > 1);
        }
    }
}
