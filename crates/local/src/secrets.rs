//! Local secrets: one JSON file per secret (`secrets/NAME.json`), owner-only (0600, in a 0700
//! directory), written atomically. Kept out of the SQLite store so no resource row, status or
//! log row can ever hold a value. Values are read only to inject them into an agent's
//! environment; errors name the secret and the key, never the value.

use crate::error::LocalError;
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The secrets directory.
#[derive(Clone, Debug)]
pub struct Secrets {
    dir: PathBuf,
}

impl Secrets {
    /// Use (and create, 0700) `dir`.
    pub fn open(dir: &Path) -> Result<Secrets, LocalError> {
        fs::create_dir_all(dir)
            .map_err(|e| LocalError::io(format!("create {}", dir.display()), e))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| LocalError::io(format!("chmod {}", dir.display()), e))?;
        Ok(Secrets {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, name: &str) -> Result<PathBuf, LocalError> {
        axon_api::loader::check_name(name).map_err(|reason| LocalError::Invalid {
            what: "secret name".into(),
            reason,
        })?;
        Ok(self.dir.join(format!("{name}.json")))
    }

    /// Create or replace a secret (idempotent).
    pub fn put(&self, name: &str, data: &BTreeMap<String, String>) -> Result<(), LocalError> {
        for key in data.keys() {
            let ok = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
            if !ok {
                return Err(LocalError::Invalid {
                    what: format!("key {key:?} of secret {name:?}"),
                    reason: "use letters, digits, '_', '-' and '.'".into(),
                });
            }
        }
        let path = self.path(name)?;
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let body = serde_json::to_vec(data).map_err(|e| LocalError::io("encode secret", e))?;
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            LocalError::io(format!("write secret {name:?}"), e)
        })
    }

    /// Whether a secret exists.
    pub fn exists(&self, name: &str) -> Result<bool, LocalError> {
        Ok(self.path(name)?.exists())
    }

    /// A secret's data, `None` when it does not exist.
    pub fn get(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, LocalError> {
        let path = self.path(name)?;
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|_| {
                LocalError::Secret(format!(
                    "secret {name:?} is corrupt ({}): re-create it with axon create secret",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LocalError::io(format!("read secret {name:?}"), e)),
        }
    }

    /// One key of a secret, or an error naming what is missing.
    pub fn value(&self, name: &str, key: &str) -> Result<String, LocalError> {
        let Some(data) = self.get(name)? else {
            return Err(LocalError::Secret(format!(
                "secret {name:?} not found: create it with `axon create secret {name} --from-literal {key}=...`"
            )));
        };
        data.get(key).cloned().ok_or_else(|| {
            LocalError::Secret(format!(
                "secret {name:?} has no key {key:?} (it has: {}): re-create it with `axon create secret {name} --from-literal {key}=...`",
                data.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_only_upsert_and_named_errors() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = Secrets::open(&dir.path().join("secrets")).expect("open");
        let data = BTreeMap::from([("API_KEY".to_string(), "s3cr3t-value".to_string())]);
        s.put("key", &data).expect("put");
        s.put("key", &data).expect("put twice");
        let mode = fs::metadata(dir.path().join("secrets/key.json"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(s.value("key", "API_KEY").expect("value"), "s3cr3t-value");
        let e = s
            .value("key", "OTHER")
            .expect_err("missing key")
            .to_string();
        assert!(e.contains("\"key\"") && e.contains("\"OTHER\""), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
        let e = s.value("nope", "K").expect_err("missing").to_string();
        assert!(e.contains("secret \"nope\" not found"), "{e}");
        assert!(s.put("Bad/Name", &data).is_err());
    }
}
