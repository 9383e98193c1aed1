// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {Registry} from "../src/Registry.sol";
import {Coordinator} from "../src/Coordinator.sol";

/// Benchmark helper: creates many subscriptions in one transaction (it is their owner).
contract BulkSubscriber {
    Coordinator private immutable COORDINATOR;

    constructor(address registry) {
        COORDINATOR = Coordinator(Registry(registry).COORDINATOR());
    }

    function createMany(uint32 count, string calldata containerId, uint32 frequency, uint32 period) external {
        for (uint32 i = 0; i < count; i++) {
            COORDINATOR.createSubscription(containerId, frequency, period, 1, false, address(0), 0, address(0), address(0));
        }
    }

    function getContainerInputs(uint32, uint32, uint32, address) external pure returns (bytes memory) {
        return "";
    }

    function rawReceiveCompute(uint32, uint32, uint16, address, bytes calldata, bytes calldata, bytes calldata, bytes32, uint256)
        external
    {}
}
