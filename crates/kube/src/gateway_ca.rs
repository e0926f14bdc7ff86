//! The gateway's CA certificate in the namespaces where Tasks run: agents trust the gateway's
//! TLS interception (GitHub hosts) through a CA bundle file named by `SSL_CERT_FILE`,
//! `GIT_SSL_CAINFO`, `NODE_EXTRA_CA_CERTS` and friends. `SSL_CERT_FILE` replaces a program's
//! roots, so the bundle holds the system roots too (those of the controller's image: Debian's
//! `ca-certificates`, like every Axon agent image) followed by the gateway CA; blind tunnels to
//! other hosts keep verifying against the real roots.
//!
//! The controller keeps one ConfigMap `axon-gateway-ca` per namespace (public material only;
//! the CA key stays in the gateway's Secret) and every Task Pod of that namespace mounts it:
//! one copy per namespace instead of one per Task, no Secret in the Pod, and nothing in the
//! agent image to change. Checked before each Job is created by its metadata only (an
//! annotation holds the SHA-256 of its content: the bundle is some 200 KiB) and written only
//! when it differs.

use crate::error::KubeError;
use crate::gateway_secret::gateway_labels;
use crate::names::{
    CONTROLLER_FIELD_MANAGER, GATEWAY_CA_BUNDLE_KEY, GATEWAY_CA_CERT_KEY, GATEWAY_CA_CONFIG_MAP,
};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Annotation of the ConfigMap: the SHA-256 (hex) of its data.
pub const CONTENT_ANNOTATION: &str = "axon.io/content-sha256";

/// Where distributions keep the system CA bundle, the first found is used.
pub const SYSTEM_ROOTS: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The system CA bundle of this machine (the controller's image), if one is found.
pub fn read_system_roots() -> Option<String> {
    SYSTEM_ROOTS
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .filter(|s| s.contains("-----BEGIN CERTIFICATE-----"))
}

/// The bundle agents trust: the system roots, then the gateway CA.
pub fn bundle(system_roots: Option<&str>, ca_cert_pem: &str) -> String {
    let mut out = String::new();
    if let Some(roots) = system_roots {
        out.push_str(roots);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out.push_str("# Axon gateway CA\n");
    out.push_str(ca_cert_pem);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The `axon-gateway-ca` ConfigMap of `namespace`.
pub fn render_ca_config_map(
    namespace: &str,
    system_roots: Option<&str>,
    ca_cert_pem: &str,
) -> ConfigMap {
    let data = BTreeMap::from([
        (GATEWAY_CA_CERT_KEY.to_string(), ca_cert_pem.to_string()),
        (
            GATEWAY_CA_BUNDLE_KEY.to_string(),
            bundle(system_roots, ca_cert_pem),
        ),
    ]);
    let mut hash = Sha256::new();
    for (k, v) in &data {
        hash.update(k.as_bytes());
        hash.update([0]);
        hash.update(v.as_bytes());
        hash.update([0]);
    }
    let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(GATEWAY_CA_CONFIG_MAP.into()),
            namespace: Some(namespace.into()),
            labels: Some(gateway_labels()),
            annotations: Some(BTreeMap::from([(CONTENT_ANNOTATION.to_string(), digest)])),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    }
}

fn content_hash(meta: &ObjectMeta) -> Option<&String> {
    meta.annotations.as_ref()?.get(CONTENT_ANNOTATION)
}

/// Write `wanted` (server-side apply) unless the namespace already has it with that content
/// (by its annotation: only the metadata is read).
pub async fn ensure_ca_config_map(client: &Client, wanted: &ConfigMap) -> Result<(), KubeError> {
    let ns = wanted.metadata.namespace.clone().unwrap_or_default();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let what = format!("ConfigMap {ns}/{GATEWAY_CA_CONFIG_MAP}");
    let current = api
        .get_metadata_opt(GATEWAY_CA_CONFIG_MAP)
        .await
        .map_err(|e| KubeError::api(format!("get {what}"), e))?;
    if current.is_some_and(|c| content_hash(&c.metadata) == content_hash(&wanted.metadata)) {
        return Ok(());
    }
    let doc = serde_json::to_value(wanted).map_err(|e| KubeError::Serde {
        what: what.clone(),
        reason: e.to_string(),
    })?;
    api.patch(
        GATEWAY_CA_CONFIG_MAP,
        &PatchParams::apply(CONTROLLER_FIELD_MANAGER).force(),
        &Patch::Apply(&doc),
    )
    .await
    .map_err(|e| KubeError::api(format!("apply {what}"), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n";

    #[test]
    fn the_bundle_is_the_system_roots_then_the_gateway_ca() {
        let roots = "-----BEGIN CERTIFICATE-----\nUk9PVA==\n-----END CERTIFICATE-----";
        let b = bundle(Some(roots), CA);
        assert!(b.starts_with(roots));
        assert!(b.ends_with(CA));
        assert_eq!(bundle(None, CA), format!("# Axon gateway CA\n{CA}"));
    }

    #[test]
    fn the_config_map_holds_the_certificate_and_the_bundle() {
        let cm = render_ca_config_map("team-a", None, CA);
        let data = cm.data.expect("data");
        assert_eq!(data.get(GATEWAY_CA_CERT_KEY).map(String::as_str), Some(CA));
        assert!(data[GATEWAY_CA_BUNDLE_KEY].ends_with(CA));
        assert_eq!(cm.metadata.namespace.as_deref(), Some("team-a"));
        let again = render_ca_config_map("team-b", None, CA);
        assert_eq!(content_hash(&cm.metadata), content_hash(&again.metadata));
        let other = render_ca_config_map("team-a", Some("roots"), CA);
        assert_ne!(content_hash(&cm.metadata), content_hash(&other.metadata));
    }
}
