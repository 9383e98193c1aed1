// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

/// Immutable address book of an Infernet deployment. Deployed first, with the CREATE addresses of
/// the other contracts computed in advance; everything else discovers its peers through it.
contract Registry {
    address public immutable COORDINATOR;
    address public immutable INBOX;
    address public immutable READER;
    address public immutable FEE;
    address public immutable WALLET_FACTORY;

    constructor(address coordinator, address inbox, address reader, address fee, address walletFactory) {
        COORDINATOR = coordinator;
        INBOX = inbox;
        READER = reader;
        FEE = fee;
        WALLET_FACTORY = walletFactory;
    }
}
