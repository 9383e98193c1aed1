//! Every on-chain binding the node uses, generated from the committed artifacts in
//! `contracts/artifacts` (the same JSON our deploy code ships), so the ABI has one source of truth.

#![allow(clippy::too_many_arguments, missing_docs)]

use alloy::sol;

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    Registry,
    "contracts/artifacts/Registry.json"
);
sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    EIP712Coordinator,
    "contracts/artifacts/EIP712Coordinator.json"
);
sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    Inbox,
    "contracts/artifacts/Inbox.json"
);
sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    Reader,
    "contracts/artifacts/Reader.json"
);
sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    Fee,
    "contracts/artifacts/Fee.json"
);
sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    Wallet,
    "contracts/artifacts/Wallet.json"
);
sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    WalletFactory,
    "contracts/artifacts/WalletFactory.json"
);
sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    BaseConsumer,
    "contracts/artifacts/BaseConsumer.json"
);
sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    Delegator,
    "contracts/artifacts/Delegator.json"
);
sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    Allowlist,
    "contracts/artifacts/Allowlist.json"
);

// SDK v0.1.0 (`chain.sdk: "0.x"`): our reproduction of its coordinator's ABI (contracts/v0).
sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    V0Coordinator,
    "contracts/artifacts/V0Coordinator.json"
);
