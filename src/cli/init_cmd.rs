//! `infernet init`: the node identity (secp256k1; its BIP-340 x-only public key names the node
//! to a control plane) and, optionally, the chain wallet key — both in the OS keyring, or the
//! 0600 fallback file, which is reported as such. Keys are never printed.
use clap::Args;
use infernet::config::{Secret, config_dir};
use infernet::identity::Secrets;
use infernet::identity::node_key::{self, Identity};
use serde_json::json;
use std::io::Read;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Replace the node identity with a new one (the old public key stops working with any
    /// control plane it was registered with)
    #[arg(long)]
    pub force: bool,
    /// Read the chain wallet's private key from stdin and store it (hex, 0x optional)
    #[arg(long, conflicts_with = "new_wallet")]
    pub wallet_key_stdin: bool,
    /// Create a new chain wallet key (fund its address before using it on a real chain)
    #[arg(long)]
    pub new_wallet: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn secrets() -> Result<(Secrets, std::path::PathBuf), String> {
    let env = |k: &str| std::env::var(k).ok();
    let dir = config_dir(&env).ok_or_else(|| {
        "cannot find the config directory: set HOME or XDG_CONFIG_HOME".to_string()
    })?;
    Ok((Secrets::new(&dir), dir))
}

fn describe(id: &Identity) -> String {
    format!(
        "node identity {} ({} in {})",
        id.public_key,
        if id.created { "created" } else { "kept" },
        id.location
    )
}

pub fn run(args: InitArgs) -> ExitCode {
    let (secrets, _) = match secrets() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let id = match node_key::ensure(&secrets, args.force) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let wallet = if args.wallet_key_stdin || args.new_wallet {
        let key = if args.new_wallet {
            let s = alloy::signers::local::PrivateKeySigner::random();
            Secret::new(format!("0x{}", alloy::hex::encode(s.to_bytes())))
        } else {
            let mut v = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut v) {
                eprintln!("error: cannot read the wallet key from stdin: {e}");
                return ExitCode::from(2);
            }
            Secret::new(v.trim().to_string())
        };
        match node_key::store_wallet(&secrets, &key) {
            Ok(w) => Some((w, true)),
            Err(e) => {
                eprintln!("error: wallet key: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        match node_key::wallet(&secrets) {
            Ok(w) => w.map(|w| (w, false)),
            Err(e) => {
                eprintln!("warning: {e}");
                None
            }
        }
    };
    if args.json {
        outln!(
            "{}",
            json!({
                "publicKey": id.public_key,
                "created": id.created,
                "stored": id.location.to_string(),
                "fallbackFile": matches!(id.location, infernet::identity::Location::File { .. }),
                "wallet": wallet.as_ref().map(|((addr, loc), stored)| json!({
                    "address": addr, "stored": loc.to_string(), "new": stored,
                })),
            })
        );
        return ExitCode::SUCCESS;
    }
    outln!("{}", describe(&id));
    match wallet {
        Some(((addr, loc), true)) => outln!("chain wallet {addr} (stored in {loc})"),
        Some(((addr, loc), false)) => outln!("chain wallet {addr} (in {loc})"),
        None => outln!(
            "chain wallet: none stored (`infernet init --wallet-key-stdin < key.txt`, or `--new-wallet`)"
        ),
    }
    ExitCode::SUCCESS
}
