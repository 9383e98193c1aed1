//! `chain`: checked only when `chain.enabled` is true.
use super::{Ctx, is_address};
use crate::config::{ChainConfig, Error};

pub(super) fn check(chain: &ChainConfig, cx: &Ctx) -> Result<(), Error> {
    if !matches!(chain.sdk.as_str(), "1.x" | "0.x") {
        return Err(cx.err(
            "chain.sdk",
            format!("'{}' is not one of 1.x, 0.x", chain.sdk),
        ));
    }
    if !chain.enabled {
        return Ok(());
    }
    required(chain, cx)?;
    if let Some(a) = &chain.coordinator_address
        && chain.sdk0()
        && !is_address(a)
    {
        return Err(cx.err(
            "chain.coordinator_address",
            format!("'{a}' is not an address (expected 0x and 40 hex digits)"),
        ));
    }
    if let Some(u) = &chain.rpc_url {
        let ok = reqwest::Url::parse(u)
            .map(|u| matches!(u.scheme(), "http" | "https" | "ws" | "wss"))
            .unwrap_or(false);
        if !ok {
            return Err(cx.err(
                "chain.rpc_url",
                format!("'{u}' is not an http(s) or ws(s) URL"),
            ));
        }
    }
    if let Some(a) = &chain.registry_address
        && !is_address(a)
    {
        return Err(cx.err(
            "chain.registry_address",
            format!("'{a}' is not an address (expected 0x and 40 hex digits)"),
        ));
    }
    if let Some(k) = &chain.wallet.private_key
        && crate::identity::node_key::parse_key(k.expose()).is_err()
    {
        return Err(cx.err(
            "chain.wallet.private_key",
            "is not a valid secp256k1 private key (expected 64 hex digits, 0x optional)",
        ));
    }
    Ok(())
}

/// The RPC endpoint, the registry and the wallet key, in that order.
fn required(chain: &ChainConfig, cx: &Ctx) -> Result<(), Error> {
    let need = [
        ("chain.rpc_url", chain.rpc_url.is_none()),
        // SDK 0.x has no Registry: the coordinator is named directly.
        (
            "chain.registry_address",
            !chain.sdk0() && chain.registry_address.is_none(),
        ),
        (
            "chain.coordinator_address",
            chain.sdk0() && chain.coordinator_address.is_none(),
        ),
        (
            "chain.wallet.private_key",
            chain.wallet.private_key.is_none(),
        ),
    ];
    for (key, missing) in need {
        if missing {
            let hint = if key == "chain.wallet.private_key" {
                " (in the file, or stored with `infernet secret set chain.wallet.private_key`)"
            } else {
                ""
            };
            return Err(cx.err(
                key,
                format!("is required when 'chain.enabled' is true{hint}"),
            ));
        }
    }
    Ok(())
}
