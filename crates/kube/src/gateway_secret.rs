//! The gateway's Secret `axon-system/axon-gateway`: the HMAC key gateway tokens are signed
//! with (the controller mints, the gateway verifies) and the CA the gateway intercepts TLS to
//! GitHub hosts with (its certificate is public and reaches agent Pods through the
//! `axon-gateway-ca` ConfigMap; its key never leaves the Secret).
//!
//! `axon install` generates the material and creates the Secret only when it is absent: a
//! re-install never rotates it (rotating the key would break the tokens of running Tasks, the
//! CA the bundles already handed out). Deleting the Secret and re-installing rotates both.
//! Rendering and reading the Secret are pure; generating needs randomness.

use crate::error::KubeError;
use crate::names::{
    GATEWAY_CA_CERT_KEY, GATEWAY_CA_KEY_KEY, GATEWAY_KEY_KEY, GATEWAY_NAME, LABEL_COMPONENT,
    LABEL_MANAGED_BY, LABEL_NAME, SYSTEM_NAMESPACE,
};
use axon_core::gateway_token::check_key;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, PostParams};
use std::collections::BTreeMap;

/// Length of a generated token key (256 bits).
const KEY_LEN: usize = 32;
/// Validity of the generated CA.
const CA_YEARS: i16 = 10;

/// The Secret's content. `Debug` never shows the key material.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewayMaterial {
    pub token_key: Vec<u8>,
    pub ca_cert_pem: String,
    pub ca_key_pem: String,
}

impl std::fmt::Debug for GatewayMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayMaterial")
            .field("token_key", &"<redacted>")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .field("ca_key_pem", &"<redacted>")
            .finish()
    }
}

/// What the controller needs from the Secret: the key to mint tokens with and the CA
/// certificate agents must trust. `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewayKeys {
    pub token_key: Vec<u8>,
    pub ca_cert_pem: String,
}

impl std::fmt::Debug for GatewayKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayKeys")
            .field("token_key", &"<redacted>")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .finish()
    }
}

/// Labels of the gateway's objects (component `gateway`, so that no selector of the
/// controller's matches them).
pub fn gateway_labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_string(), "axon".to_string()),
        (LABEL_COMPONENT.to_string(), "gateway".to_string()),
        (LABEL_MANAGED_BY.to_string(), "axon".to_string()),
    ])
}

/// Fresh material: 32 random bytes of key and a self-signed ECDSA P-256 CA valid for ten
/// years from today.
pub fn generate() -> Result<GatewayMaterial, KubeError> {
    let mut token_key = vec![0u8; KEY_LEN];
    getrandom::fill(&mut token_key).map_err(|e| {
        KubeError::Gateway(format!("cannot read random bytes for the gateway key: {e}"))
    })?;
    let fail = |e: rcgen::Error| KubeError::Gateway(format!("cannot make the gateway CA: {e}"));
    let key = rcgen::KeyPair::generate().map_err(fail)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::OrganizationName, "Axon");
    dn.push(rcgen::DnType::CommonName, "Axon gateway CA");
    params.distinguished_name = dn;
    let today = jiff::Zoned::now().date();
    let yesterday = today.yesterday().unwrap_or(today);
    params.not_before = rcgen::date_time_ymd(
        i32::from(yesterday.year()),
        yesterday.month().unsigned_abs(),
        yesterday.day().unsigned_abs(),
    );
    params.not_after = rcgen::date_time_ymd(
        i32::from(today.year() + CA_YEARS),
        today.month().unsigned_abs(),
        today.day().min(28).unsigned_abs(),
    );
    let cert = params.self_signed(&key).map_err(fail)?;
    Ok(GatewayMaterial {
        token_key,
        ca_cert_pem: cert.pem(),
        ca_key_pem: key.serialize_pem(),
    })
}

/// The Secret holding `material`.
pub fn render_secret(material: &GatewayMaterial) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(GATEWAY_NAME.into()),
            namespace: Some(SYSTEM_NAMESPACE.into()),
            labels: Some(gateway_labels()),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([
            (
                GATEWAY_KEY_KEY.to_string(),
                ByteString(material.token_key.clone()),
            ),
            (
                GATEWAY_CA_CERT_KEY.to_string(),
                ByteString(material.ca_cert_pem.clone().into_bytes()),
            ),
            (
                GATEWAY_CA_KEY_KEY.to_string(),
                ByteString(material.ca_key_pem.clone().into_bytes()),
            ),
        ])),
        ..Default::default()
    }
}

/// The key and CA certificate of a gateway Secret, or what is wrong with it (never a value).
pub fn keys_from_secret(secret: &Secret) -> Result<GatewayKeys, String> {
    let data = secret.data.as_ref();
    let get = |k: &str| data.and_then(|d| d.get(k)).map(|b| b.0.clone());
    let token_key =
        get(GATEWAY_KEY_KEY).ok_or_else(|| format!("it has no key {GATEWAY_KEY_KEY}"))?;
    check_key(&token_key).map_err(|e| e.to_string())?;
    let ca =
        get(GATEWAY_CA_CERT_KEY).ok_or_else(|| format!("it has no key {GATEWAY_CA_CERT_KEY}"))?;
    let ca_cert_pem = String::from_utf8(ca)
        .ok()
        .filter(|p| p.contains("-----BEGIN CERTIFICATE-----"))
        .ok_or_else(|| format!("its {GATEWAY_CA_CERT_KEY} is not a PEM certificate"))?;
    Ok(GatewayKeys {
        token_key,
        ca_cert_pem,
    })
}

/// Read the gateway's key and CA certificate from its Secret; a missing or unusable Secret
/// is an error that says how to fix it.
pub async fn load_keys(client: &Client) -> Result<GatewayKeys, KubeError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    let what = format!("Secret {SYSTEM_NAMESPACE}/{GATEWAY_NAME}");
    let secret = api
        .get_opt(GATEWAY_NAME)
        .await
        .map_err(|e| KubeError::api(format!("get the gateway {what}"), e))?
        .ok_or_else(|| {
            KubeError::Gateway(format!(
                "the gateway {what} does not exist: run `axon install` (it creates it), or start the controller with --gateway=false to run Tasks without the gateway"
            ))
        })?;
    keys_from_secret(&secret).map_err(|why| {
        KubeError::Gateway(format!(
            "the gateway {what} is unusable: {why}; delete it and run `axon install` to make a new one (running Tasks lose their gateway tokens)"
        ))
    })
}

/// The gateway's material from the directory its Secret is mounted at (`token-key`, `ca.crt`,
/// `ca.key`). Errors name the file and what is wrong, never a value.
pub fn read_material(dir: &std::path::Path) -> Result<GatewayMaterial, KubeError> {
    let read = |key: &str| {
        let path = dir.join(key);
        std::fs::read(&path).map_err(|e| {
            KubeError::Gateway(format!(
                "cannot read {}: {e} (the gateway Secret {SYSTEM_NAMESPACE}/{GATEWAY_NAME} is mounted there; `axon install` creates it)",
                path.display()
            ))
        })
    };
    let token_key = read(GATEWAY_KEY_KEY)?;
    check_key(&token_key)
        .map_err(|e| KubeError::Gateway(format!("{}: {e}", dir.join(GATEWAY_KEY_KEY).display())))?;
    let text = |key: &str| {
        String::from_utf8(read(key)?)
            .map_err(|_| KubeError::Gateway(format!("{} is not PEM text", dir.join(key).display())))
    };
    Ok(GatewayMaterial {
        token_key,
        ca_cert_pem: text(GATEWAY_CA_CERT_KEY)?,
        ca_key_pem: text(GATEWAY_CA_KEY_KEY)?,
    })
}

/// Create the Secret with fresh material when it does not exist; `true` when it was created.
/// An existing Secret is left as it is (never rotated).
pub async fn ensure_secret(client: &Client) -> Result<bool, KubeError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    let what = format!("Secret {SYSTEM_NAMESPACE}/{GATEWAY_NAME}");
    let existing = api
        .get_metadata_opt(GATEWAY_NAME)
        .await
        .map_err(|e| KubeError::api(format!("get {what}"), e))?;
    if existing.is_some() {
        return Ok(false);
    }
    let secret = render_secret(&generate()?);
    match api.create(&PostParams::default(), &secret).await {
        Ok(_) => Ok(true),
        // Another install created it in between: keep theirs.
        Err(e) if crate::error::is_conflict(&e) => Ok(false),
        Err(e) => Err(KubeError::api(format!("create {what}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_material_is_fresh_and_reads_back() {
        let a = generate().expect("generate");
        let b = generate().expect("generate");
        assert_ne!(a.token_key, b.token_key);
        assert_eq!(a.token_key.len(), KEY_LEN);
        assert!(a.ca_cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(a.ca_key_pem.contains("PRIVATE KEY"));
        let keys = keys_from_secret(&render_secret(&a)).expect("keys");
        assert_eq!(keys.token_key, a.token_key);
        assert_eq!(keys.ca_cert_pem, a.ca_cert_pem);
    }

    #[test]
    fn debug_never_shows_key_material() {
        let m = generate().expect("generate");
        let text = format!("{m:?}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        assert!(text.contains("<redacted>"));
        let keys = keys_from_secret(&render_secret(&m)).expect("keys");
        assert!(format!("{keys:?}").contains("<redacted>"));
    }

    #[test]
    fn an_unusable_secret_says_why() {
        let m = generate().expect("generate");
        let mut s = render_secret(&m);
        s.data
            .as_mut()
            .expect("data")
            .insert(GATEWAY_KEY_KEY.into(), ByteString(b"short".to_vec()));
        assert!(
            keys_from_secret(&s)
                .expect_err("short key")
                .contains("at least 32")
        );
        s.data.as_mut().expect("data").remove(GATEWAY_KEY_KEY);
        assert!(
            keys_from_secret(&s)
                .expect_err("no key")
                .contains("no key token-key")
        );
        let mut s = render_secret(&m);
        s.data
            .as_mut()
            .expect("data")
            .insert(GATEWAY_CA_CERT_KEY.into(), ByteString(b"junk".to_vec()));
        assert!(
            keys_from_secret(&s)
                .expect_err("junk")
                .contains("not a PEM")
        );
    }
}
