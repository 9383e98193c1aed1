// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {Wallet} from "./Wallet.sol";
import {Registry} from "../Registry.sol";

/// Creates Wallets and remembers them: the coordinator only pays from and to wallets made here.
contract WalletFactory {
    event WalletCreated(address indexed caller, address indexed owner, address wallet);

    Registry private immutable REGISTRY;
    mapping(address => bool) private created;

    constructor(Registry registry) {
        REGISTRY = registry;
    }

    function createWallet(address initialOwner) external returns (address) {
        address wallet = address(new Wallet(REGISTRY, initialOwner));
        created[wallet] = true;
        emit WalletCreated(msg.sender, initialOwner, wallet);
        return wallet;
    }

    function isValidWallet(address wallet) external view returns (bool) {
        return created[wallet];
    }
}
