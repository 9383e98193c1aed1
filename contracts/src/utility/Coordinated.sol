// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {Registry} from "../Registry.sol";

/// Gives a contract an `onlyCoordinator` modifier; the coordinator is read from the Registry once.
abstract contract Coordinated {
    error NotCoordinator();

    address internal immutable COORDINATOR_ADDRESS;

    constructor(Registry registry) {
        COORDINATOR_ADDRESS = registry.COORDINATOR();
    }

    modifier onlyCoordinator() {
        if (msg.sender != COORDINATOR_ADDRESS) revert NotCoordinator();
        _;
    }
}
