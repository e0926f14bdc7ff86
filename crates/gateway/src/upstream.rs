//! The client the gateway reaches upstreams with, its trusted roots loaded off the start path.
//!
//! Why a file of its own: loading and parsing the system's TLS roots (about 150 certificates)
//! costs several milliseconds of CPU, and a local Task's gateway is built by its supervisor
//! right before the sandbox starts, so that cost sat between a Task being admitted and its
//! agent starting (`bench/pipeline.sh`, `bench/local.sh`). The roots are now loaded on a thread
//! of their own from the moment the gateway is built; the first upstream request waits for
//! them if it comes sooner (at most once per gateway), and a gateway that never calls an
//! upstream never waits at all. What is trusted is unchanged: the system's roots, with ring.

use std::sync::{Arc, OnceLock};

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::{ClientConfig, ConfigBuilder, WantsVerifier};

use crate::body::Body;
use crate::gateway::{GatewayError, UPSTREAM_CONNECT_TIMEOUT};

/// The client the gateway reaches upstreams with (http and https; never a proxy from the
/// environment: the gateway's own environment may name one for the agents).
pub type UpstreamClient = Client<HttpsConnector<HttpConnector>, Body>;

/// The upstream client, built once: now from a given TLS configuration, or in the background
/// with the system's roots.
pub(crate) struct Upstream {
    client: Arc<OnceLock<UpstreamClient>>,
    /// How to build it, for a first request that finds it not built yet.
    make: Arc<dyn Fn() -> UpstreamClient + Send + Sync>,
}

impl Upstream {
    /// With `tls`, the client now; without, the system's roots loading on a thread of their
    /// own (or, if no thread can be started, on first use). An `Err` only when ring offers no
    /// safe protocol version, as before.
    pub(crate) fn new(tls: Option<ClientConfig>) -> Result<Upstream, GatewayError> {
        let client = Arc::new(OnceLock::new());
        let Some(tls) = tls else {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let builder = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| GatewayError::Tls(e.to_string()))?;
            let make: Arc<dyn Fn() -> UpstreamClient + Send + Sync> =
                Arc::new(move || build(with_system_roots(builder.clone())));
            let (cell, in_thread) = (client.clone(), make.clone());
            // A thread that cannot start leaves the work to the first request.
            let _ = std::thread::Builder::new()
                .name("gateway-tls-roots".into())
                .spawn(move || {
                    cell.get_or_init(|| in_thread());
                });
            return Ok(Upstream { client, make });
        };
        let _ = client.set(build(tls.clone()));
        Ok(Upstream {
            client,
            make: Arc::new(move || build(tls.clone())),
        })
    }

    /// The client; the first call may wait for the roots still loading.
    pub(crate) fn client(&self) -> &UpstreamClient {
        self.client.get_or_init(|| (self.make)())
    }
}

/// rustls with ring and the system's trusted roots. A system without roots still gets a client
/// (plain-http upstreams work; https ones fail with a TLS error naming the missing trust).
fn with_system_roots(builder: ConfigBuilder<ClientConfig, WantsVerifier>) -> ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "gateway: a system TLS root could not be loaded");
    }
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        tracing::warn!("gateway: no system TLS roots found; https upstreams will fail");
    }
    builder.with_root_certificates(roots).with_no_client_auth()
}

fn build(tls: ClientConfig) -> UpstreamClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(UPSTREAM_CONNECT_TIMEOUT));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new()).build(connector)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Built without a configuration, the gateway gets the client with the system's roots
    /// whether the background load finished first or the first request did the work.
    #[test]
    fn the_client_is_there_whoever_loads_the_roots() {
        let upstream = Upstream::new(None).expect("upstream");
        let first: *const UpstreamClient = upstream.client();
        assert!(std::ptr::eq(first, upstream.client()), "built once");
        let given =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
        let upstream = Upstream::new(Some(given)).expect("upstream");
        assert!(
            upstream.client.get().is_some(),
            "a given configuration is used at once"
        );
    }
}
