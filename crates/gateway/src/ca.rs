//! The per-Task certificate authority the gateway intercepts GitHub's TLS with.
//!
//! Why: `git`, `gh` and `curl` reach GitHub over HTTPS through the gateway's `CONNECT` proxy.
//! To swap the agent's gateway token for the real one and to read a push's commands, the
//! gateway must see inside that TLS: it terminates it with a leaf certificate for the GitHub
//! host, signed by a CA made for this one Task. The agent trusts that CA through a bundle file
//! (the system's roots plus this CA) named by `SSL_CERT_FILE`, `GIT_SSL_CAINFO` and
//! `NODE_EXTRA_CA_CERTS`; no other Task, and nothing outside the sandbox, trusts it. The CA's
//! private key never leaves the gateway's memory.
//!
//! Keys are ECDSA P-256; the CA is valid for [`CA_VALIDITY`] from five minutes before its
//! creation (clock skew) and may sign leaves only (path length 0); leaves are minted once per
//! host and cached for the CA's life.
//!
//! On Kubernetes the gateway serves every Task with **one** CA, loaded from its Secret
//! ([`TaskCa::from_pem`]): agent Pods trust it through the namespace's CA bundle ConfigMap.
//! Such a CA lives for years, so its leaves are minted for [`LOADED_LEAF_VALIDITY`] and minted
//! again once half of that has passed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// How long a Task CA is valid.
pub const CA_VALIDITY: Duration = Duration::from_secs(24 * 3600);

/// How long a leaf of a loaded CA ([`TaskCa::from_pem`]) is valid.
pub const LOADED_LEAF_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Backdating of `notBefore`, so a client whose clock is a little behind still accepts.
const BACKDATE: Duration = Duration::from_secs(300);

/// Where the system's trusted roots usually are (the paths OpenSSL and Go look at), tried in
/// order after `$SSL_CERT_FILE`.
pub const SYSTEM_CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/etc/openssl/cert.pem",
];

/// Errors of the Task CA.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// Key or certificate generation failed.
    #[error("cannot create the gateway's TLS certificate for {what}: {source}")]
    Generate {
        /// What was being made.
        what: String,
        /// The cause.
        source: rcgen::Error,
    },
    /// A CA certificate or key given as PEM could not be read.
    #[error("cannot load the gateway CA: {0}")]
    Load(String),
    /// The TLS server configuration was refused.
    #[error("cannot configure TLS interception for {host}: {source}")]
    Tls {
        /// The host.
        host: String,
        /// The cause.
        source: rustls::Error,
    },
}

/// A Task's CA and its cache of leaf certificates.
pub struct TaskCa {
    name: String,
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    validity: Validity,
    leaves: Mutex<HashMap<String, Leaf>>,
}

/// The validity of the leaves a CA mints.
#[derive(Debug, Clone, Copy)]
enum Validity {
    /// The CA's own window (a generated, short-lived Task CA): leaves live as long as it.
    Window {
        not_before: Duration,
        not_after: Duration,
    },
    /// A loaded, long-lived CA: each leaf is valid for this long from its minting.
    PerLeaf(Duration),
}

/// A cached leaf configuration and when it must be minted again (seconds since the epoch).
struct Leaf {
    config: Arc<rustls::ServerConfig>,
    renew_at: Duration,
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

impl std::fmt::Debug for TaskCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskCa")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TaskCa {
    /// A new CA named `Axon gateway CA for <task>`, valid for [`CA_VALIDITY`].
    pub fn generate(task: &str) -> Result<TaskCa, CaError> {
        TaskCa::generate_valid_for(task, CA_VALIDITY)
    }

    /// A new CA valid for `validity` (a Task that may run longer needs a longer one).
    pub fn generate_valid_for(task: &str, validity: Duration) -> Result<TaskCa, CaError> {
        let name = format!("Axon gateway CA for {task}");
        let generate = |source| CaError::Generate {
            what: name.clone(),
            source,
        };
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(generate)?;
        let now = now();
        let not_before = now.saturating_sub(BACKDATE);
        let not_after = now + validity;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name.clone());
        dn.push(DnType::OrganizationName, "Axon");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        // The serial number is rcgen's default: derived from the fresh public key, so unique.
        let epoch = rcgen::date_time_ymd(1970, 1, 1);
        params.not_before = epoch + not_before;
        params.not_after = epoch + not_after;
        let cert = params.self_signed(&key).map_err(generate)?;
        Ok(TaskCa {
            name,
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
            validity: Validity::Window {
                not_before,
                not_after,
            },
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// A CA loaded from its certificate and private key (PEM; the key PKCS#8, as `axon install`
    /// writes it): the one CA of a cluster's gateway. Its leaves are valid for
    /// [`LOADED_LEAF_VALIDITY`]. The error never contains key material.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<TaskCa, CaError> {
        use rustls::pki_types::pem::PemObject;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| CaError::Load(format!("the CA certificate is not PEM: {e}")))?
            .into_owned();
        let key = KeyPair::from_pem(key_pem).map_err(|e| {
            CaError::Load(format!(
                "the CA key is not a PEM private key rcgen can sign with: {e}"
            ))
        })?;
        if key.der_bytes() != ca_public_key(&cert_der)?.as_slice() {
            return Err(CaError::Load(
                "the CA key does not belong to the CA certificate".into(),
            ));
        }
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)
            .map_err(|e| CaError::Load(format!("the CA certificate cannot be read: {e}")))?;
        let name = ca_common_name(&cert_der).unwrap_or_else(|| "Axon gateway CA".to_string());
        Ok(TaskCa {
            name,
            cert_pem: format!("{}\n", cert_pem.trim_end()),
            cert_der,
            issuer,
            validity: Validity::PerLeaf(LOADED_LEAF_VALIDITY),
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// The CA's subject name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The system's trusted roots followed by this CA, PEM: the file an agent's
    /// `SSL_CERT_FILE`, `GIT_SSL_CAINFO` and `NODE_EXTRA_CA_CERTS` name. Without a system
    /// bundle (see [`system_ca_pem`]) it is this CA alone.
    pub fn bundle_with_system_roots(&self) -> String {
        let mut bundle = system_ca_pem().unwrap_or_default();
        if !bundle.is_empty() && !bundle.ends_with('\n') {
            bundle.push('\n');
        }
        bundle.push_str(&format!("# {}\n", self.name));
        bundle.push_str(&self.cert_pem);
        bundle
    }

    /// The TLS server configuration presenting a leaf for `host` (a name or an IP literal),
    /// minted on first use and cached. ALPN offers `http/1.1` only.
    pub fn server_config(&self, host: &str) -> Result<Arc<rustls::ServerConfig>, CaError> {
        let host = axon_core::egress::normalize_host(host);
        let mut leaves = self.leaves.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(leaf) = leaves.get(&host)
            && now() < leaf.renew_at
        {
            return Ok(leaf.config.clone());
        }
        let renew_at = match self.validity {
            Validity::Window { .. } => Duration::MAX,
            Validity::PerLeaf(validity) => now() + validity / 2,
        };
        let (chain, key) = self.mint_leaf(&host)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = |source| CaError::Tls {
            host: host.clone(),
            source,
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(tls)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);
        leaves.insert(
            host,
            Leaf {
                config: config.clone(),
                renew_at,
            },
        );
        Ok(config)
    }

    /// A leaf certificate for `host` signed by this CA (chain: leaf, CA) and its key.
    pub fn mint_leaf(
        &self,
        host: &str,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), CaError> {
        let host = axon_core::egress::normalize_host(host);
        let generate = |source| CaError::Generate {
            what: format!("{host} (leaf of {})", self.name),
            source,
        };
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(generate)?;
        let mut params = CertificateParams::default();
        let san = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(host.clone().try_into().map_err(generate)?),
        };
        params.subject_alt_names = vec![san];
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, host.clone());
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let (not_before, not_after) = match self.validity {
            Validity::Window {
                not_before,
                not_after,
            } => (not_before, not_after),
            Validity::PerLeaf(validity) => {
                let now = now();
                (now.saturating_sub(BACKDATE), now + validity)
            }
        };
        let epoch = rcgen::date_time_ymd(1970, 1, 1);
        params.not_before = epoch + not_before;
        params.not_after = epoch + not_after;
        let cert = params.signed_by(&key, &self.issuer).map_err(generate)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((vec![cert.der().clone(), self.cert_der.clone()], key))
    }
}

/// The `subjectPublicKey` of `cert` (the raw key, what [`PublicKeyData::der_bytes`] gives for
/// its key pair).
fn ca_public_key(cert: &CertificateDer<'_>) -> Result<Vec<u8>, CaError> {
    let (_, x509) = x509_parser::parse_x509_certificate(cert.as_ref()).map_err(|_| {
        CaError::Load("the CA certificate is not a well-formed X.509 certificate".into())
    })?;
    Ok(x509.public_key().subject_public_key.data.to_vec())
}

/// The common name of a certificate's subject.
fn ca_common_name(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, x509) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let cn = x509.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

/// The system's trusted roots, PEM: `$SSL_CERT_FILE` when set and readable, else the first
/// readable file of [`SYSTEM_CA_FILES`]; `None` when there is none.
pub fn system_ca_pem() -> Option<String> {
    let from_env = std::env::var_os("SSL_CERT_FILE");
    let candidates = from_env
        .iter()
        .map(|p| Path::new(p.as_os_str()))
        .chain(SYSTEM_CA_FILES.iter().map(Path::new));
    for path in candidates {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.contains("-----BEGIN CERTIFICATE-----")
        {
            return Some(text);
        }
    }
    None
}
