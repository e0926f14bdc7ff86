//! One TLS provider (rustls with ring) for every client in the process.

/// Install ring as the process-wide rustls provider (a no-op when one is installed).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
