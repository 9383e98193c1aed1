//! What both front ends (the CLI commands and the TUI) need from the terminal before they
//! run: the async runtime, and the default model fetched with a progress bar.
use infernet::backend;
use std::path::PathBuf;
use std::process::ExitCode;

/// The async runtime for a command (`threads`: worker threads, None = one per core); the error
/// is already reported.
pub(crate) fn runtime(threads: Option<usize>) -> Result<tokio::runtime::Runtime, ExitCode> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        b.worker_threads(n);
    }
    b.enable_all().build().map_err(|e| {
        eprintln!("error: cannot start the async runtime: {e}");
        ExitCode::FAILURE
    })
}

/// Fetches the built-in default model unless it is on disk: a progress bar on a terminal, one
/// line otherwise (none when `quiet`).
pub(crate) async fn fetch_default_model(
    src: &backend::default_model::Source,
    quiet: bool,
) -> Result<PathBuf, String> {
    use backend::default_model::{LABEL, Progress, ensure};
    if src.present() {
        return Ok(src.path());
    }
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    if bar.is_hidden() && !quiet {
        eprintln!("fetching the default model {LABEL} from {}", src.url);
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(format!("fetching the default model {LABEL} (once)"));
    let result = ensure(src, |p| match p {
        Progress::Downloading { done, total } => {
            if let Some(t) = total {
                bar.set_length(t);
            }
            bar.set_position(done);
        }
        Progress::Verifying => bar.set_message(format!("verifying {LABEL} (sha256)")),
    })
    .await;
    bar.finish_and_clear();
    result.map_err(String::from)
}
