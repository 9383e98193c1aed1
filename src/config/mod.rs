//! `config.json`: schema, search order, layering (flag > env > file > default) and validation.
mod backend_kind;
pub mod default_backend;
pub mod edit;
mod error;
mod lenient;
mod load;
mod redact;
mod schema;
pub mod scrub;

pub mod validate;

pub use crate::identity::Secret;
pub use backend_kind::{BackendKind, normalise_url};
pub use error::Error;
pub use lenient::parse_uint256;
pub use load::{
    CHAIN_KEY_SECRET, Loaded, Overrides, Source, config_dir, data_dir, load, load_with, locate,
    parse_str,
};
pub use redact::redacted;
pub use schema::*;
