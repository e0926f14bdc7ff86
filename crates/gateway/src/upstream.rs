//! The client the gateway reaches upstreams with, its trusted roots loaded on first use.
//!
//! Why a file of its own: loading and parsing the system's TLS roots (about 150 certificates)
//! costs 5–13 ms of CPU, and a local Task's gateway is built by its supervisor right before the
//! sandbox starts, so that cost sat between a Task being admitted and its agent starting
//! (`bench/pipeline.sh`, `bench/local.sh`). The roots are now loaded by the first upstream
//! request (once per gateway, while the agent waits for its first model answer anyway); a
//! gateway that never calls an upstream never loads them. Loading them on a thread of their
//! own from the start was tried: on 2 busy cores it only moved the CPU beside the sandbox's
//! start, and the start got no faster. What is trusted is unchanged: the system's roots, with
//! ring.

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

/// The upstream client, built once: now from a given TLS configuration, or on first use with
/// the system's roots.
pub(crate) struct Upstream {
    client: OnceLock<UpstreamClient>,
    /// How to build it, for a first request that finds it not built yet.
    make: Box<dyn Fn() -> UpstreamClient + Send + Sync>,
}

impl Upstream {
    /// With `tls`, the client now; without, the protocol settings checked now and the system's
    /// roots loaded on first use. An `Err` only when ring offers no safe protocol version, as
    /// before.
    pub(crate) fn new(tls: Option<ClientConfig>) -> Result<Upstream, GatewayError> {
        let client = OnceLock::new();
        let Some(tls) = tls else {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let builder = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| GatewayError::Tls(e.to_string()))?;
            let make = Box::new(move || build(with_system_roots(builder.clone())));
            return Ok(Upstream { client, make });
        };
        let _ = client.set(build(tls.clone()));
        Ok(Upstream {
            client,
            make: Box::new(move || build(tls.clone())),
        })
    }

    /// The client; the first call loads the system's roots (a few milliseconds, once).
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

    /// Built without a configuration, the gateway loads the system's roots on first use, once;
    /// with one, the client is there at once.
    #[test]
    fn the_client_is_built_once_on_first_use() {
        let upstream = Upstream::new(None).expect("upstream");
        assert!(
            upstream.client.get().is_none(),
            "nothing loaded before first use"
        );
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
