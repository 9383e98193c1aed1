//! `infernet logs`: the daemon's log with its rotated files (`daemon.log.N` … `.1`, then
//! `daemon.log`), and `-f` following across rotation and truncation.
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The last `n` lines of one file (empty when it does not exist).
pub fn tail_file(path: &Path, n: usize) -> Vec<String> {
    let Ok(f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let mut lines: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    for l in BufReader::new(f).lines().map_while(Result::ok) {
        if lines.len() == n {
            lines.pop_front();
        }
        lines.push_back(l);
    }
    lines.into()
}

/// The log and its backups, oldest first.
pub fn files(log: &Path) -> Vec<PathBuf> {
    let mut backups: Vec<(u32, PathBuf)> = Vec::new();
    if let (Some(dir), Some(name)) = (log.parent(), log.file_name().and_then(|n| n.to_str()))
        && let Ok(rd) = std::fs::read_dir(dir)
    {
        for e in rd.flatten() {
            let file = e.file_name();
            let Some(f) = file.to_str() else { continue };
            if let Some(n) = f
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix('.'))
                .and_then(|r| r.parse::<u32>().ok())
            {
                backups.push((n, e.path()));
            }
        }
    }
    backups.sort_by_key(|b| std::cmp::Reverse(b.0));
    let mut out: Vec<PathBuf> = backups.into_iter().map(|(_, p)| p).collect();
    if log.exists() {
        out.push(log.to_path_buf());
    }
    out
}

/// The last `n` lines across the log and its backups.
pub fn tail(log: &Path, n: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in files(log).iter().rev() {
        if out.len() >= n {
            break;
        }
        let mut lines = tail_file(f, n - out.len());
        lines.append(&mut out);
        out = lines;
    }
    out
}

/// Prints new lines as they are written until `stop` returns true. A rotation (new inode)
/// or truncation (shorter file) starts again from the top of the new file.
pub fn follow(
    log: &Path,
    mut emit: impl FnMut(&str),
    stop: impl Fn() -> bool,
) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut pos = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
    let mut ino = std::fs::metadata(log).map(|m| m.ino()).ok();
    let mut partial = String::new();
    while !stop() {
        std::thread::sleep(Duration::from_millis(200));
        let Ok(meta) = std::fs::metadata(log) else {
            continue;
        };
        if Some(meta.ino()) != ino || meta.len() < pos {
            ino = Some(meta.ino());
            pos = 0;
            partial.clear();
        }
        if meta.len() == pos {
            continue;
        }
        let mut f = std::fs::File::open(log)?;
        f.seek(SeekFrom::Start(pos))?;
        let mut chunk = String::new();
        let read = f.read_to_string(&mut chunk)?;
        pos += read as u64;
        partial.push_str(&chunk);
        while let Some(i) = partial.find('\n') {
            let line: String = partial.drain(..=i).collect();
            emit(line.trim_end_matches('\n'));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_spans_rotated_files_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("daemon.log");
        std::fs::write(dir.path().join("daemon.log.2"), "a\nb\n").unwrap();
        std::fs::write(dir.path().join("daemon.log.1"), "c\nd\n").unwrap();
        std::fs::write(&log, "e\n").unwrap();
        std::fs::write(dir.path().join("daemon.log.x"), "junk\n").unwrap();
        assert_eq!(tail(&log, 3), vec!["c", "d", "e"]);
        assert_eq!(tail(&log, 10), vec!["a", "b", "c", "d", "e"]);
        assert_eq!(tail(&dir.path().join("none.log"), 3), Vec::<String>::new());
    }

    #[test]
    fn follow_sees_appends_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("daemon.log");
        std::fs::write(&log, "old\n").unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let s2 = seen.clone();
        let l2 = log.clone();
        let t = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let s3 = s2.clone();
            follow(
                &l2,
                move |l| s3.lock().unwrap().push(l.to_string()),
                move || s2.lock().unwrap().len() >= 2 || start.elapsed() > Duration::from_secs(10),
            )
            .unwrap();
        });
        std::thread::sleep(Duration::from_millis(400));
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        writeln!(f, "new one").unwrap();
        std::thread::sleep(Duration::from_millis(500));
        std::fs::write(&log, "cut\n").unwrap();
        t.join().unwrap();
        assert_eq!(*seen.lock().unwrap(), vec!["new one", "cut"]);
    }
}
