//! The one error type of the Kubernetes backend. Every message says what to do next; none
//! carries a Secret's value (Secret data never reaches an error).

use thiserror::Error;

/// What went wrong talking to a cluster or running the controller.
#[derive(Debug, Error)]
pub enum KubeError {
    /// No usable kubeconfig (file missing, no current context, not in a cluster).
    #[error(
        "cannot load the Kubernetes configuration{}: {reason} (set --kubeconfig, KUBECONFIG, or select a context with kubectl config use-context)",
        path.as_deref().map(|p| format!(" from {p}")).unwrap_or_default()
    )]
    Config {
        path: Option<String>,
        reason: String,
    },
    /// The API server could not be reached or refused the client.
    #[error(
        "cannot reach the Kubernetes API server: {0} (is the cluster running and the current context right? try kubectl cluster-info)"
    )]
    Connect(String),
    /// Axon's CRDs are not installed (`what` is the operation that found out).
    #[error(
        "Axon is not installed in this cluster ({what}: the API server does not serve the axon.io resources): install it with `axon install` (needs cluster-admin), or check --kubeconfig and the current context"
    )]
    NotInstalled { what: String },
    /// The API refused an operation for lack of permission.
    #[error(
        "forbidden: {what}: {reason} (ask a cluster admin for the RBAC permission, or use another namespace with -n)"
    )]
    Forbidden { what: String, reason: String },
    /// The API server rejected a request.
    #[error("{what}: {reason}")]
    Api { what: String, reason: String },
    /// A resource the operation needs does not exist.
    #[error("{kind} {name:?} not found in namespace {namespace}")]
    NotFound {
        kind: String,
        name: String,
        namespace: String,
    },
    /// The Task ended or disappeared before it had a Pod, so there are no logs.
    #[error("Task {task:?} has no Pod: {reason}")]
    NoPod { task: String, reason: String },
    /// `axon logs --requests`: no gateway Pod whose log could hold the Task's requests.
    #[error(
        "Task {task:?}: no Axon gateway Pod runs in axon-system, so there is no request log to read (run `axon install` to deploy the gateway; a controller started with --gateway=false runs Tasks without it, and records no request)"
    )]
    NoRequestLog { task: String },
    /// Waiting for something timed out.
    #[error("timed out after {seconds}s waiting for {what}")]
    Timeout { what: String, seconds: u64 },
    /// Writing output (logs) failed.
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
    /// A resource could not be encoded or decoded.
    #[error("cannot encode or decode {what}: {reason}")]
    Serde { what: String, reason: String },
    /// The metrics server could not bind its address.
    #[error(
        "cannot serve metrics on {addr}: {reason} (choose another address with --metrics-addr)"
    )]
    Bind { addr: String, reason: String },
    /// A controller setting from the environment is invalid (the message names it).
    #[error("{0}")]
    Setting(String),
    /// A Task's prompt does not fit the Kubernetes backend.
    #[error(transparent)]
    PromptTooLarge(#[from] crate::prompt::PromptTooLarge),
    /// The gateway's Secret is missing or unusable, or its material cannot be made (the
    /// message says what to do).
    #[error("{0}")]
    Gateway(String),
    /// Another controller replica holds the leader Lease and this one lost it.
    #[error("lost the leader Lease {0}: another replica took over; exiting so the Pod restarts")]
    LostLease(String),
}

impl KubeError {
    /// Classify a `kube` error for an operation described by `what` (for example
    /// `apply Task/hello`).
    pub fn api(what: impl Into<String>, err: kube::Error) -> KubeError {
        let what = what.into();
        match err {
            kube::Error::Api(status) => {
                let reason = status.message.clone();
                if status.code == 403 {
                    KubeError::Forbidden { what, reason }
                } else if type_missing(&status) {
                    KubeError::NotInstalled { what }
                } else {
                    KubeError::Api { what, reason }
                }
            }
            kube::Error::HyperError(e) => KubeError::Connect(e.to_string()),
            kube::Error::Service(e) => KubeError::Connect(e.to_string()),
            other => KubeError::Api {
                what,
                reason: other.to_string(),
            },
        }
    }
}

/// Whether a `kube` error is the API's 404.
pub fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 404)
}

/// Whether a `kube` error is the 404 of a missing object, not of a missing resource type (a
/// CRD that is not installed answers 404 too, which must not read as "no such Task").
pub fn is_object_missing(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 404 && !type_missing(s))
}

/// A 404 for a resource type rather than an object: the API group exists but not the
/// resource ("the server could not find the requested resource"), or the group is not served
/// at all, which the API server answers with a plain-text "404 page not found" (not a
/// `Status`, so `kube` reports it as unparsed).
fn type_missing(status: &kube::core::Status) -> bool {
    status.code == 404
        && (status
            .message
            .contains("the server could not find the requested resource")
            || status.message.contains("404 page not found")
            || status.reason == "Failed to parse error data")
}

impl KubeError {
    /// This error with every occurrence of each of `secrets` replaced by `<redacted>` (an
    /// admission webhook or a proxy may echo a request's content in its message).
    pub fn redact(self, secrets: &[String]) -> KubeError {
        let scrub = |mut s: String| {
            for v in secrets.iter().filter(|v| !v.is_empty()) {
                s = s.replace(v.as_str(), "<redacted>");
            }
            s
        };
        match self {
            KubeError::Api { what, reason } => KubeError::Api {
                what: scrub(what),
                reason: scrub(reason),
            },
            KubeError::Forbidden { what, reason } => KubeError::Forbidden {
                what: scrub(what),
                reason: scrub(reason),
            },
            KubeError::NotInstalled { what } => KubeError::NotInstalled { what: scrub(what) },
            KubeError::Connect(s) => KubeError::Connect(scrub(s)),
            other => other,
        }
    }
}

/// Whether a `kube` error is the API's 409 (already exists / conflict).
pub fn is_conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 409)
}
