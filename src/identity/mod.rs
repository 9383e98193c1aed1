//! Secrets (API keys now; node identity and wallet keys with the lifecycle work): the OS keyring
//! (Secret Service) when one answers, else a 0600 file in the config directory — and the caller
//! is always told which, so a fallback is never silent.
mod file;
pub mod node_key;
mod secret;

pub use file::FileSecrets;
pub use secret::Secret;

use std::path::{Path, PathBuf};

const SERVICE: &str = "infernet";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("secrets file '{path}': {message}")]
    File { path: PathBuf, message: String },
    #[error("OS keyring: {0}")]
    Keyring(String),
}

/// Where a secret lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Keyring,
    /// The 0600 file, with why the keyring was not used.
    File {
        path: PathBuf,
        reason: String,
    },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Keyring => f.write_str("the OS keyring"),
            Location::File { path, reason } => {
                write!(
                    f,
                    "{} (mode 0600; fallback because the OS keyring is not available: {reason})",
                    path.display()
                )
            }
        }
    }
}

/// Keyring calls may block on D-Bus and run their own executor: keep them on a plain thread,
/// safe from inside or outside an async runtime.
fn keyring<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, keyring::Error> + Send + 'static,
) -> Result<T, keyring::Error> {
    std::thread::spawn(f).join().unwrap_or_else(|_| {
        Err(keyring::Error::PlatformFailure(
            "keyring thread panicked".into(),
        ))
    })
}

fn unavailable(e: &keyring::Error) -> Option<String> {
    match e {
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => {
            Some(inner.to_string())
        }
        _ => None,
    }
}

/// The keyring with the file fallback.
#[derive(Debug, Clone)]
pub struct Secrets {
    file: FileSecrets,
}

impl Secrets {
    /// Secrets for the config directory `dir` (the fallback file is `dir/secrets.json`).
    pub fn new(dir: &Path) -> Self {
        Self {
            file: FileSecrets::new(&dir.join("secrets.json")),
        }
    }

    pub fn set(&self, name: &str, value: &Secret) -> Result<Location, Error> {
        let (n, v) = (name.to_string(), value.expose().to_string());
        match keyring(move || keyring::Entry::new(SERVICE, &n)?.set_password(&v)) {
            Ok(()) => {
                // A stale copy in the file would shadow nothing but should not linger.
                let _ = self.file.remove(name);
                Ok(Location::Keyring)
            }
            Err(e) => match unavailable(&e) {
                Some(reason) => {
                    self.file.set(name, value)?;
                    Ok(Location::File {
                        path: self.file.path().to_path_buf(),
                        reason,
                    })
                }
                None => Err(Error::Keyring(e.to_string())),
            },
        }
    }

    pub fn get(&self, name: &str) -> Result<Option<(Secret, Location)>, Error> {
        let n = name.to_string();
        let reason = match keyring(move || keyring::Entry::new(SERVICE, &n)?.get_password()) {
            Ok(v) => return Ok(Some((Secret::new(v), Location::Keyring))),
            Err(keyring::Error::NoEntry) => "not in the keyring".to_string(),
            Err(e) => unavailable(&e).ok_or_else(|| Error::Keyring(e.to_string()))?,
        };
        Ok(self.file.get(name)?.map(|v| {
            (
                v,
                Location::File {
                    path: self.file.path().to_path_buf(),
                    reason,
                },
            )
        }))
    }

    pub fn remove(&self, name: &str) -> Result<bool, Error> {
        let n = name.to_string();
        let in_keyring =
            match keyring(move || keyring::Entry::new(SERVICE, &n)?.delete_credential()) {
                Ok(()) => true,
                Err(keyring::Error::NoEntry) => false,
                Err(e) if unavailable(&e).is_some() => false,
                Err(e) => return Err(Error::Keyring(e.to_string())),
            };
        Ok(self.file.remove(name)? || in_keyring)
    }

    /// Names in the fallback file (the keyring cannot be listed portably).
    pub fn file_names(&self) -> Result<Vec<String>, Error> {
        self.file.names()
    }
}
