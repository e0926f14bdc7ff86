//! [`Valid`]: a resource that passed every field rule (`axon_core::validate::all_violations`).
//! Backends accept only `Valid` values for what they create or replace, and [`Valid::check`]
//! is the only way to make one — so the rules are applied in exactly one place, and no create
//! path (a command, a spawner's Task) can forget them.

use crate::error::BackendError;
use axon_api::loader::Resource;
use axon_api::{Task, Workspace};

/// A `T` that passed validation. Read it through `Deref`; take it with [`Valid::into_inner`].
#[derive(Clone, Debug)]
pub struct Valid<T>(T);

impl<T> Valid<T> {
    /// The value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Valid<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The first broken rule of `r`, in the words `axon validate` uses.
fn check(r: &Resource) -> Result<(), BackendError> {
    match axon_core::validate::all_violations(r).first() {
        None => Ok(()),
        Some(v) => Err(BackendError::invalid(format!(
            "{} {:?}: {}: {}",
            r.kind(),
            r.name(),
            v.path,
            v.reason
        ))),
    }
}

impl Valid<Resource> {
    /// `r`, if it breaks no rule; else the first broken rule, naming kind, name and field.
    pub fn check(r: Resource) -> Result<Valid<Resource>, BackendError> {
        check(&r)?;
        Ok(Valid(r))
    }
}

impl Valid<Task> {
    /// `task`, if it breaks no rule (a spawner's Task goes through the same rules as a user's).
    pub fn check_task(task: Task) -> Result<Valid<Task>, BackendError> {
        let r = Resource::Task(Box::new(task));
        check(&r)?;
        match r {
            Resource::Task(t) => Ok(Valid(*t)),
            _ => unreachable!("constructed as a Task above"),
        }
    }
}

impl Valid<Workspace> {
    /// `workspace`, if it breaks no rule (a fan-out item's Workspace goes through the same
    /// rules as a user's).
    pub fn check_workspace(workspace: Workspace) -> Result<Valid<Workspace>, BackendError> {
        let r = Resource::Workspace(Box::new(workspace));
        check(&r)?;
        match r {
            Resource::Workspace(w) => Ok(Valid(*w)),
            _ => unreachable!("constructed as a Workspace above"),
        }
    }
}

impl From<Valid<Workspace>> for Valid<Resource> {
    fn from(w: Valid<Workspace>) -> Valid<Resource> {
        Valid(Resource::Workspace(Box::new(w.0)))
    }
}

impl From<Valid<Task>> for Valid<Resource> {
    fn from(t: Valid<Task>) -> Valid<Resource> {
        Valid(Resource::Task(Box::new(t.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn task(prompt: &str) -> Task {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "axon.io/v1alpha1",
            "kind": "Task",
            "metadata": {"name": "t"},
            "spec": {"type": "claude-code", "prompt": prompt,
                "credentials": {"type": "api-key", "secretRef": {"name": "c"}}},
        }))
        .expect("task")
    }

    #[test]
    fn refuses_what_validate_refuses_naming_the_field() {
        let e = Valid::check_task(task("   ")).expect_err("blank prompt");
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert!(
            e.to_string().starts_with("Task \"t\": spec.prompt: "),
            "{e}"
        );
        let ok = Valid::check_task(task("fix it")).expect("valid");
        assert_eq!(ok.spec.prompt, "fix it");
    }
}
