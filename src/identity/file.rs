//! The fallback store: one JSON object in a 0600 file, its directory 0700, written atomically.
use super::Error;
use crate::identity::Secret;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct FileSecrets {
    path: PathBuf,
}

impl FileSecrets {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, message: impl std::fmt::Display) -> Error {
        Error::File {
            path: self.path.clone(),
            message: message.to_string(),
        }
    }

    fn read(&self) -> Result<BTreeMap<String, String>, Error> {
        match std::fs::read_to_string(&self.path) {
            Ok(t) => {
                serde_json::from_str(&t).map_err(|e| self.err(format!("not valid JSON ({e})")))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn write(&self, map: &BTreeMap<String, String>) -> Result<(), Error> {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.err(e))?;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let tmp = PathBuf::from(format!("{}.tmp", self.path.display()));
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.err(e))?;
        let text = serde_json::to_string_pretty(map).map_err(|e| self.err(e))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| self.err(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.err(e))
    }

    pub fn get(&self, name: &str) -> Result<Option<Secret>, Error> {
        Ok(self.read()?.remove(name).map(Secret::new))
    }

    pub fn set(&self, name: &str, value: &Secret) -> Result<(), Error> {
        let mut map = self.read()?;
        map.insert(name.to_string(), value.expose().to_string());
        self.write(&map)
    }

    pub fn remove(&self, name: &str) -> Result<bool, Error> {
        let mut map = self.read()?;
        let had = map.remove(name).is_some();
        if had {
            self.write(&map)?;
        }
        Ok(had)
    }

    pub fn names(&self) -> Result<Vec<String>, Error> {
        Ok(self.read()?.into_keys().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn file_is_0600_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let f = FileSecrets::new(&dir.path().join("sub/secrets.json"));
        f.set("a", &Secret::new("1")).unwrap();
        f.set("b", &Secret::new("2")).unwrap();
        assert_eq!(f.get("a").unwrap().unwrap().expose(), "1");
        let mode = std::fs::metadata(f.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(f.remove("a").unwrap());
        assert!(!f.remove("a").unwrap());
        assert_eq!(f.names().unwrap(), vec!["b".to_string()]);
    }
}
