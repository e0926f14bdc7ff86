//! Pod Security "restricted" for everything Axon runs: non-root with a high UID, no privilege
//! escalation, every capability dropped, seccomp `RuntimeDefault`, read-only root filesystem.
//! A Task's Pod runs `prepare` and the agent as [`RUN_AS_USER`] and the results container as
//! [`crate::names::RESULTS_UID`]; the UID is set per container.

use crate::names::RUN_AS_USER;
use k8s_openapi::api::core::v1::{
    Capabilities, PodSecurityContext, ResourceRequirements, SeccompProfile, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

fn seccomp() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        ..Default::default()
    }
}

/// The Pod-level security context (containers override the UID).
pub fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS_USER),
        run_as_group: Some(RUN_AS_USER),
        fs_group: Some(RUN_AS_USER),
        seccomp_profile: Some(seccomp()),
        ..Default::default()
    }
}

/// The container-level security context, as [`RUN_AS_USER`].
pub fn container_security_context() -> SecurityContext {
    container_security_context_as(RUN_AS_USER)
}

/// The container-level security context, running as `uid` (UID and GID).
pub fn container_security_context_as(uid: i64) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        seccomp_profile: Some(seccomp()),
        ..Default::default()
    }
}

/// Requests and limits (`cpu`, `memory`) as Kubernetes quantities.
pub fn resources(
    cpu_request: &str,
    memory_request: &str,
    cpu_limit: &str,
    memory_limit: &str,
) -> ResourceRequirements {
    let q = |cpu: &str, mem: &str| {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.into())),
            ("memory".to_string(), Quantity(mem.into())),
        ])
    };
    ResourceRequirements {
        requests: Some(q(cpu_request, memory_request)),
        limits: Some(q(cpu_limit, memory_limit)),
        ..Default::default()
    }
}
