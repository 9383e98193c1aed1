//! The chain step: serve on-chain subscriptions (RPC, registry, wallet key) or not.
use super::{Cancelled, Ctx, Flow, print_needs};
use infernet::config::Secret;
use infernet::identity::{Secrets, node_key};
use infernet::setup::ChainChoice;
use std::process::ExitCode;
use std::time::Duration;

pub(super) async fn chain(c: &mut Ctx<'_>) -> Result<Flow, Cancelled> {
    let chain_now = c
        .existing
        .as_ref()
        .map(|c| c.chain.clone())
        .unwrap_or_default();
    let want_chain = if c.args.no_chain {
        false
    } else if c.args.rpc_url.is_some() || c.args.registry.is_some() {
        true
    } else {
        c.ask
            .confirm("Serve on-chain subscriptions?", chain_now.enabled)?
    };
    if !want_chain {
        outln!("  off: off-chain jobs only");
        // Written only when the file says something about it: a fresh file stays small.
        if chain_now.enabled || c.current.pointer("/chain/enabled").is_some() {
            c.answers.chain = ChainChoice::Off;
        }
        if c.args.rpc_url.is_none() {
            c.needs.push(
                "--rpc-url URL --registry ADDRESS --wallet-key-stdin: serve on-chain subscriptions"
                    .into(),
            );
        }
        return Ok(Flow::Next);
    }
    let rpc = match &c.args.rpc_url {
        Some(r) => r.clone(),
        None => c.ask.text(
            "RPC URL:",
            chain_now
                .rpc_url
                .as_deref()
                .unwrap_or("http://127.0.0.1:8545"),
        )?,
    };
    let registry = match &c.args.registry {
        Some(r) => r.clone(),
        None => c.ask.text(
            "Registry contract address:",
            chain_now.registry_address.as_deref().unwrap_or(""),
        )?,
    };
    let Ok(addr) = registry.parse::<alloy::primitives::Address>() else {
        eprintln!("error: the registry address '{registry}' is not an address (0x + 40 hex)");
        if !c.ask.interactive {
            c.needs
                .push("--registry ADDRESS: the Infernet Registry on your chain".into());
            print_needs(&c.needs);
        }
        return Ok(Flow::Stop(ExitCode::from(2)));
    };
    let has_key_in_config = chain_now.wallet.private_key.is_some();
    match wallet_key(c, has_key_in_config)? {
        Ok(key) => c.answers.wallet_key = key,
        Err(code) => return Ok(Flow::Stop(code)),
    }
    match tokio::time::timeout(
        Duration::from_secs(10),
        infernet::chain::client::ChainClient::connect(&rpc, addr),
    )
    .await
    {
        Ok(Ok(cl)) => outln!(
            "  chain {} answers; coordinator {}",
            cl.chain_id,
            cl.addresses.coordinator
        ),
        Ok(Err(e)) => outln!("  warning: {e} (saved anyway; `infernet doctor` checks again)"),
        Err(_) => outln!("  warning: {rpc} did not answer within 10 s (saved anyway)"),
    }
    c.answers.chain = ChainChoice::On {
        rpc_url: rpc,
        registry_address: registry,
    };
    Ok(Flow::Next)
}

/// The wallet key to store: from stdin, asked for, or none (keep the stored one). The inner
/// Err is the exit status after a printed error.
fn wallet_key(
    c: &mut Ctx<'_>,
    has_key_in_config: bool,
) -> Result<Result<Option<Secret>, ExitCode>, Cancelled> {
    let stored = node_key::wallet(&Secrets::new(&c.secrets_dir))
        .ok()
        .flatten();
    let key = match (&c.wallet_key, &stored) {
        (Some(k), _) => Some(k.clone()),
        (None, Some((addr, _)))
            if !c
                .ask
                .confirm(&format!("Replace the stored wallet {addr}?"), false)? =>
        {
            outln!("  keeping wallet {addr}");
            None
        }
        _ => match c
            .ask
            .password("Wallet private key (hex; stored in the keyring, never in the file):")?
        {
            Some(k) => Some(Secret::new(k.trim().to_string())),
            None if has_key_in_config => None,
            None => {
                eprintln!("error: the chain side needs the wallet key that pays for deliveries");
                c.needs
                    .push("--wallet-key-stdin (pipe the key in): the node's wallet key".into());
                print_needs(&c.needs);
                return Ok(Err(ExitCode::from(2)));
            }
        },
    };
    if let Some(k) = &key
        && let Err(e) = node_key::parse_key(k.expose())
    {
        eprintln!("error: wallet key: {e}");
        return Ok(Err(ExitCode::from(2)));
    }
    Ok(Ok(key))
}
