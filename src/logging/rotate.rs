//! A size-rotated log file: `path` grows to `max_size`, then `path.1` ... `path.N` keep the
//! `backups` most recent files (Python's RotatingFileHandler naming, as Ritual uses).
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

struct Inner {
    path: PathBuf,
    max_size: u64,
    backups: u32,
    file: Option<File>,
    size: u64,
}

#[derive(Clone)]
pub struct RotatingFile {
    inner: Arc<Mutex<Inner>>,
}

fn backup(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

impl RotatingFile {
    pub fn open(path: &Path, max_size: u64, backups: u32) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            inner: Arc::new(Mutex::new(Inner {
                path: path.to_path_buf(),
                max_size: max_size.max(1),
                backups,
                file: Some(file),
                size,
            })),
        })
    }
}

impl Inner {
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        if self.backups == 0 {
            // No backups: start the file over.
            self.file = Some(File::create(&self.path)?);
            self.size = 0;
            return Ok(());
        }
        let _ = std::fs::remove_file(backup(&self.path, self.backups));
        for n in (1..self.backups).rev() {
            let from = backup(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, backup(&self.path, n + 1))?;
            }
        }
        std::fs::rename(&self.path, backup(&self.path, 1))?;
        self.file = Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?,
        );
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut g = self
            .inner
            .lock()
            .map_err(|_| io::Error::other("log file lock poisoned"))?;
        if g.size > 0 && g.size + buf.len() as u64 > g.max_size {
            g.rotate()?;
        }
        let file = match g.file.as_mut() {
            Some(f) => f,
            None => return Err(io::Error::other("log file closed")),
        };
        file.write_all(buf)?;
        g.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut g = self
            .inner
            .lock()
            .map_err(|_| io::Error::other("log file lock poisoned"))?;
        match g.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RotatingFile {
    type Writer = RotatingFile;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_n_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.log");
        let mut f = RotatingFile::open(&path, 100, 2).unwrap();
        for i in 0..10 {
            // One write per line, as the tracing formatter does: 60 bytes, one line per file.
            f.write_all(format!("{i:0>59}\n").as_bytes()).unwrap();
        }
        assert!(path.exists());
        assert!(backup(&path, 1).exists());
        assert!(backup(&path, 2).exists());
        assert!(!backup(&path, 3).exists());
        let newest = std::fs::read_to_string(&path).unwrap();
        assert!(newest.starts_with(&format!("{:0>59}", 9)));
        let older = std::fs::read_to_string(backup(&path, 1)).unwrap();
        assert!(older.starts_with(&format!("{:0>59}", 8)));
    }
}
