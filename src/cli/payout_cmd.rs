//! `infernet payout set|list|remove` and `infernet payments`: the node's payout addresses and
//! its ledger on the control plane, signed with the node key as `infernet register` is.
use clap::{Args, Subcommand};
use infernet::control::client::{CpClient, CpError};
use infernet::payout;
use infernet_core::wire::Role;
use infernet_core::wire::payouts::{
    PaymentRow, PaymentsList, PayoutRemove, PayoutRemoved, PayoutRow, PayoutSaved, PayoutSet, Rows,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Args)]
pub struct PayoutArgs {
    #[command(subcommand)]
    pub command: PayoutCommand,
}

#[derive(Debug, Subcommand)]
pub enum PayoutCommand {
    /// Add (or update) a payout address; the first one, or one with --default, is where
    /// payments go. Checked for its network before anything is sent
    Set(SetArgs),
    /// This node's payout addresses (`*` marks the default)
    List(ListArgs),
    /// Remove this node's addresses of COIN on NETWORK
    Remove(RemoveArgs),
}

/// Where the call goes.
#[derive(Debug, Args)]
pub struct Target {
    /// Control plane URL (else control_plane.url, INFERNET_CONTROL_PLANE)
    #[arg(long)]
    pub url: Option<String>,
    /// Print the server's answer as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// BTC, BCH, ETH, SOL, POL, BNB, XRP, ADA, DOGE, USDT or USDC
    pub coin: String,
    /// The coin's network: bitcoin, bitcoin-cash, ethereum, solana, polygon, bsc, ripple,
    /// cardano, dogecoin or base
    pub network: String,
    pub address: String,
    /// Make it the default payout address (the old default is demoted)
    #[arg(long)]
    pub default: bool,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    pub coin: String,
    pub network: String,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Args)]
pub struct PaymentsArgs {
    /// Rows to show, newest first (1–100)
    #[arg(long, default_value_t = 20)]
    pub limit: i64,
    #[command(flatten)]
    pub target: Target,
}

pub fn payout(flag: Option<&Path>, a: PayoutArgs) -> ExitCode {
    match a.command {
        PayoutCommand::Set(a) => {
            // A malformed address never leaves the machine.
            let checked = match payout::check(&a.coin, &a.network, &a.address) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let body = PayoutSet {
                coin: checked.coin,
                network: checked.network,
                address: checked.address,
                default: a.default.then_some(true),
            };
            call(
                flag,
                &a.target,
                "/api/v1/node/payouts/set",
                &body,
                |s: PayoutSaved| {
                    let r = s.row;
                    outln!(
                        "payout address set: {} on {} → {}{}",
                        r.coin,
                        r.network,
                        r.address,
                        if r.is_default { " (default)" } else { "" }
                    );
                },
            )
        }
        PayoutCommand::List(a) => call(
            flag,
            &a.target,
            "/api/v1/node/payouts/list",
            &serde_json::json!({}),
            |rows: Rows<PayoutRow>| {
                if rows.rows.is_empty() {
                    outln!("no payout address set: infernet payout set COIN NETWORK ADDRESS");
                }
                for r in rows.rows {
                    let mark = if r.is_default { "*" } else { " " };
                    outln!("{mark} {:<5} {:<13} {}", r.coin, r.network, r.address);
                }
            },
        ),
        PayoutCommand::Remove(a) => {
            let body = PayoutRemove {
                coin: a.coin.trim().to_ascii_uppercase(),
                network: a.network.trim().to_ascii_lowercase(),
            };
            let (coin, network) = (body.coin.clone(), body.network.clone());
            call(
                flag,
                &a.target,
                "/api/v1/node/payouts/remove",
                &body,
                move |r: PayoutRemoved| {
                    if r.deleted == 0 {
                        outln!("no {coin} address on {network} was set");
                    } else {
                        outln!("removed {} {coin} address(es) on {network}", r.deleted);
                    }
                },
            )
        }
    }
}

pub fn payments(flag: Option<&Path>, a: PaymentsArgs) -> ExitCode {
    if !(1..=100).contains(&a.limit) {
        eprintln!("error: --limit must be 1 to 100");
        return ExitCode::from(2);
    }
    let body = PaymentsList {
        role: Role::Provider,
        limit: Some(a.limit),
    };
    call(
        flag,
        &a.target,
        "/api/v1/node/payments/list",
        &body,
        |rows: Rows<PaymentRow>| {
            out!("{}", payments_table(&rows.rows));
        },
    )
}

fn usd(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("${s}")
}

/// The ledger as a table, with the pending and confirmed USD totals.
fn payments_table(rows: &[PaymentRow]) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("no payments yet\n");
        return out;
    }
    out.push_str(&format!(
        "{:<24} {:<9} {:<5} {:>12} {:>12} {:<9} {}\n",
        "CREATED", "DIRECTION", "COIN", "AMOUNT", "USD", "STATUS", "TX HASH / INVOICE"
    ));
    let dash = || "-".to_string();
    let (mut pending, mut confirmed) = (0.0, 0.0);
    for r in rows {
        let amount_usd = r.amount_usd.unwrap_or(0.0);
        match r.status.as_str() {
            "pending" => pending += amount_usd,
            "confirmed" => confirmed += amount_usd,
            _ => {}
        }
        out.push_str(&format!(
            "{:<24} {:<9} {:<5} {:>12} {:>12} {:<9} {}\n",
            r.created_at,
            r.direction,
            r.coin.clone().unwrap_or_else(dash),
            r.amount.map(|a| a.to_string()).unwrap_or_else(dash),
            r.amount_usd.map(usd).unwrap_or_else(dash),
            r.status,
            r.tx_hash
                .clone()
                .or_else(|| r.invoice_id.clone())
                .unwrap_or_else(dash),
        ));
    }
    out.push_str(&format!(
        "total pending: {}   total confirmed: {}\n",
        usd(pending),
        usd(confirmed)
    ));
    out
}

/// One signed call with the node key; prints the answer (`--json`: as the server sent its
/// data). Exit 1 when the control plane is unreachable or refuses, 2 for local setup errors.
fn call<B, R>(
    flag: Option<&Path>,
    target: &Target,
    path: &str,
    body: &B,
    show: impl FnOnce(R),
) -> ExitCode
where
    B: Serialize,
    R: DeserializeOwned,
{
    let (cfg, key) = match super::control_cmd::cp_config(flag, target.url.as_deref()) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let rt = match super::runtime(Some(1)) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let client = CpClient::new(&cfg.control_plane.url, key);
    let answer: Result<serde_json::Value, CpError> = rt.block_on(client.call(path, body, TIMEOUT));
    let v = match answer {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if target.json {
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    match serde_json::from_value::<R>(v) {
        Ok(r) => {
            show(r);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: unexpected answer from {}: {e}",
                cfg.control_plane.url
            );
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_totals_pending_and_confirmed() {
        let row = |status: &str, usd: f64| PaymentRow {
            direction: "outbound".into(),
            status: status.into(),
            amount_usd: Some(usd),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            ..Default::default()
        };
        let t = payments_table(&[
            row("pending", 0.0037),
            row("pending", 0.0013),
            row("confirmed", 2.5),
            row("failed", 9.0),
        ]);
        assert!(t.starts_with("CREATED"), "{t}");
        assert!(
            t.ends_with("total pending: $0.005   total confirmed: $2.5\n"),
            "{t}"
        );
        assert_eq!(payments_table(&[]), "no payments yet\n");
    }
}
