// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {CallbackConsumer} from "../src/consumer/Callback.sol";

/// Test consumer that calls back into the coordinator from its callback: a delivery to it must
/// fail with Reentrancy() and leave the coordinator's lock as it was.
contract ReentrantConsumer is CallbackConsumer {
    constructor(address registry) CallbackConsumer(registry) {}

    function request(string calldata containerId) external returns (uint32) {
        return _requestCompute(containerId, "", 1, address(0), 0, address(0), address(0));
    }

    function _receiveCompute(
        uint32 subscriptionId,
        uint32,
        uint16,
        address,
        bytes calldata,
        bytes calldata,
        bytes calldata,
        bytes32,
        uint256
    ) internal override {
        COORDINATOR.deliverCompute(subscriptionId + 1, 1, "", "", "", address(0));
    }
}
