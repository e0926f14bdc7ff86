//! The one error type of the backend port. A backend's own error (`LocalError`, `KubeError`)
//! becomes a [`BackendError`] with its message unchanged — those messages already say what to
//! do next and never carry a secret — plus an [`ErrorKind`] for the few callers that act on
//! what failed rather than print it.

use std::error::Error as StdError;

/// What kind of failure, for callers that decide on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Refused as given: a field rule, a name, a prompt too large for the backend.
    Invalid,
    /// The object the operation needs does not exist.
    NotFound,
    /// Axon's API is not installed where the backend looked (a cluster without its CRDs).
    NotInstalled,
    /// Anything else: the store, the API server, the network, the machine.
    Failed,
}

/// A backend failure: its message (from the backend's own error) and its kind.
#[derive(Debug, thiserror::Error)]
#[error("{inner}")]
pub struct BackendError {
    kind: ErrorKind,
    inner: Box<dyn StdError + Send + Sync + 'static>,
}

/// An error that is just a message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Message(String);

impl BackendError {
    /// `error`, of kind `kind`.
    pub fn new(kind: ErrorKind, error: impl StdError + Send + Sync + 'static) -> BackendError {
        BackendError {
            kind,
            inner: Box::new(error),
        }
    }

    /// A failure described by `message` alone.
    pub fn message(kind: ErrorKind, message: impl Into<String>) -> BackendError {
        BackendError::new(kind, Message(message.into()))
    }

    /// A request refused as given, described by `message`.
    pub fn invalid(message: impl Into<String>) -> BackendError {
        BackendError::message(ErrorKind::Invalid, message)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The backend's own error, when it is a `T` (tests that check a specific variant).
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.inner.downcast_ref::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_message_and_the_backend_error() {
        let io = std::io::Error::other("disk full");
        let e = BackendError::new(ErrorKind::Failed, io);
        assert_eq!(e.to_string(), "disk full");
        assert_eq!(e.kind(), ErrorKind::Failed);
        assert!(e.downcast_ref::<std::io::Error>().is_some());
        let e = BackendError::invalid("Task \"x\": metadata.name: too long");
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert_eq!(e.to_string(), "Task \"x\": metadata.name: too long");
    }
}
