//! `config.json`: schema, search order, layering (flag > env > file > default) and validation.
pub mod edit;
mod error;
mod lenient;
mod load;
mod redact;
mod schema;
pub mod scrub;
mod secret;
pub mod validate;

pub use error::Error;
pub use lenient::parse_uint256;
pub use load::{
    CHAIN_KEY_SECRET, Loaded, Overrides, Source, config_dir, data_dir, load, load_with, locate,
    parse_str,
};
pub use redact::redacted;
pub use schema::*;
pub use secret::Secret;
