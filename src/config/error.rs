use std::path::PathBuf;

/// A config problem, always naming the file and, where there is one, the key path.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config file '{path}': {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file '{path}' is not valid JSON at line {line}, column {column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("config file '{path}': key '{key}': {message}")]
    Key {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("environment variable '{name}': {message}")]
    Env { name: String, message: String },
}
