//! `infernet contracts deploy` and `infernet dev chain`.
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use clap::{Args, Subcommand};
use infernet::chain::anvil::{self, Anvil, DEV_KEYS};
use infernet::chain::deploy::{deploy_stack, fund, parse_key, signing_provider};
use infernet::chain::{Addresses, ChainClient};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ContractsCommand {
    /// Deploy Registry, Coordinator, Inbox, Reader, Fee and WalletFactory to a chain
    Deploy(DeployArgs),
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// JSON-RPC endpoint (http(s):// or ws(s)://)
    #[arg(long)]
    pub rpc_url: String,
    /// Deployer private key (hex). Prefer INFERNET_DEPLOYER_KEY: flags show up in `ps`.
    #[arg(long, env = "INFERNET_DEPLOYER_KEY", hide_env_values = true)]
    pub key: String,
    /// Protocol fee in basis points (of 10 000), paid to --fee-recipient
    #[arg(long, default_value_t = 0)]
    pub fee_bp: u16,
    /// Fee recipient (and Fee owner); default: the deployer
    #[arg(long)]
    pub fee_recipient: Option<Address>,
    /// Write chain.rpc_url and chain.registry_address into this config file (other keys kept)
    #[arg(long, value_name = "FILE")]
    pub write_config: Option<PathBuf>,
    /// Print the addresses as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Start a local anvil, deploy the contracts, fund a node key and write a ready config
    Chain(DevChainArgs),
}

#[derive(Debug, Args)]
pub struct DevChainArgs {
    /// Port for anvil on 127.0.0.1
    #[arg(long, default_value_t = 8545)]
    pub port: u16,
    /// Seconds between blocks (0: a block per transaction)
    #[arg(long, default_value_t = 1)]
    pub block_time: u64,
    /// Node key to fund and write into the config (default: anvil's account #1, as Ritual's tests)
    #[arg(long, env = "INFERNET_NODE_KEY", hide_env_values = true)]
    pub node_key: Option<String>,
    /// Config file to create or update
    #[arg(long, value_name = "FILE", default_value = "config.json")]
    pub write_config: PathBuf,
}

fn print_addresses(a: &Addresses, chain_id: u64, json_out: bool) {
    if json_out {
        outln!(
            "{}",
            json!({"chain_id": chain_id, "registry": a.registry.to_string(),
                   "coordinator": a.coordinator.to_string(), "inbox": a.inbox.to_string(),
                   "reader": a.reader.to_string(), "fee": a.fee.to_string(),
                   "wallet_factory": a.wallet_factory.to_string()})
        );
        return;
    }
    outln!("chain id        {chain_id}");
    outln!("Registry        {}", a.registry);
    outln!("Coordinator     {}", a.coordinator);
    outln!("Inbox           {}", a.inbox);
    outln!("Reader          {}", a.reader);
    outln!("Fee             {}", a.fee);
    outln!("WalletFactory   {}", a.wallet_factory);
}

fn write_chain_config(
    file: &std::path::Path,
    rpc_url: &str,
    registry: Address,
    extra: &[(&str, serde_json::Value)],
) -> Result<(), String> {
    let mut entries = vec![
        ("chain.rpc_url", json!(rpc_url)),
        ("chain.registry_address", json!(registry.to_string())),
    ];
    entries.extend(extra.iter().cloned());
    infernet::config::edit::set_keys(file, &entries).map_err(|e| e.to_string())
}

pub fn deploy(args: DeployArgs) -> ExitCode {
    let key = match parse_key(&args.key) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: --key / INFERNET_DEPLOYER_KEY: {e}");
            return ExitCode::from(2);
        }
    };
    let Ok(rt) = super::runtime(None) else {
        return ExitCode::from(1);
    };
    rt.block_on(async {
        let fee_recipient = args.fee_recipient.unwrap_or(key.address());
        let result = async {
            let p = signing_provider(&args.rpc_url, &key).await?;
            let a = deploy_stack(&p, key.address(), fee_recipient, args.fee_bp).await?;
            // Read it back the way the node will: proves the stack is wired and the domain right.
            let c = ChainClient::connect(&args.rpc_url, a.registry).await?;
            Ok::<_, infernet::chain::ChainError>((a, c.chain_id))
        }
        .await;
        match result {
            Ok((a, chain_id)) => {
                print_addresses(&a, chain_id, args.json);
                if let Some(f) = &args.write_config {
                    if let Err(e) = write_chain_config(f, &args.rpc_url, a.registry, &[]) {
                        eprintln!("error: {e}");
                        return ExitCode::from(1);
                    }
                    eprintln!(
                        "wrote chain.rpc_url and chain.registry_address to {}",
                        f.display()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

pub fn dev_chain(args: DevChainArgs) -> ExitCode {
    let Some(bin) = anvil::find() else {
        eprintln!(
            "error: no 'anvil' binary found (INFERNET_ANVIL_BIN, PATH, ./node_modules).\n\
             Install it with: npm install @foundry-rs/anvil   (or foundryup)"
        );
        return ExitCode::from(1);
    };
    let node_key: PrivateKeySigner = match args.node_key.as_deref().map(parse_key) {
        Some(Ok(k)) => k,
        Some(Err(e)) => {
            eprintln!("error: --node-key / INFERNET_NODE_KEY: {e}");
            return ExitCode::from(2);
        }
        None => match parse_key(DEV_KEYS[1]) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        },
    };
    let chain = match Anvil::start(&bin, args.port, args.block_time, &[]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let Ok(rt) = super::runtime(None) else {
        return ExitCode::from(1);
    };
    let url = chain.url();
    let setup = rt.block_on(async {
        // Account #2 at nonce 0: the same addresses as Ritual's infernet-anvil image.
        let deployer = parse_key(DEV_KEYS[2]).map_err(infernet::chain::ChainError::Setup)?;
        let p = signing_provider(&url, &deployer).await?;
        let a = deploy_stack(&p, deployer.address(), deployer.address(), 0).await?;
        let funder = signing_provider(
            &url,
            &parse_key(DEV_KEYS[0]).map_err(infernet::chain::ChainError::Setup)?,
        )
        .await?;
        let balance = funder
            .get_balance(node_key.address())
            .await
            .map_err(|e| infernet::chain::ChainError::from_rpc("eth_getBalance", e))?;
        let ten_eth = U256::from(10u64).pow(U256::from(19u64));
        if balance < ten_eth {
            fund(&funder, node_key.address(), ten_eth * U256::from(10u64)).await?;
        }
        let c = ChainClient::connect(&url, a.registry).await?;
        Ok::<_, infernet::chain::ChainError>((a, c.chain_id))
    });
    let (a, chain_id) = match setup {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let key_hex = format!("0x{}", alloy::hex::encode(node_key.to_bytes()));
    if let Err(e) = write_chain_config(
        &args.write_config,
        &url,
        a.registry,
        &[
            ("chain.enabled", json!(true)),
            ("chain.trail_head_blocks", json!(0)),
            ("chain.wallet.private_key", json!(key_hex)),
        ],
    ) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    print_addresses(&a, chain_id, false);
    outln!("node address    {}", node_key.address());
    outln!(
        "RPC             {url} (anvil pid {}, block time {}s)",
        chain.pid(),
        args.block_time
    );
    outln!(
        "config          {} (chain section written)",
        args.write_config.display()
    );
    outln!(
        "\nrun the node:   infernet start --foreground --config {}",
        args.write_config.display()
    );
    outln!("Ctrl-C (or SIGTERM) stops the chain.");
    // SIGTERM too (scripts, service managers): anvil is stopped on the way out either way.
    rt.block_on(super::node::wait_for_signal());
    drop(chain);
    ExitCode::SUCCESS
}
