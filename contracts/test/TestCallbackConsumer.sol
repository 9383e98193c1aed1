// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {CallbackConsumer} from "../src/consumer/Callback.sol";
import {DeliveryRecorder} from "./DeliveryRecorder.sol";

/// Test consumer for one-shot callback requests.
contract TestCallbackConsumer is CallbackConsumer, DeliveryRecorder {
    constructor(address registry) CallbackConsumer(registry) {}

    function request(string calldata containerId, bytes calldata inputs, uint16 redundancy)
        external
        returns (uint32)
    {
        return _requestCompute(containerId, inputs, redundancy, address(0), 0, address(0), address(0));
    }

    function _receiveCompute(
        uint32 subscriptionId,
        uint32 interval,
        uint16 redundancy,
        address node,
        bytes memory input,
        bytes memory output,
        bytes memory proof,
        bytes32 containerId,
        uint256 index
    ) internal override {
        _record(subscriptionId, interval, redundancy, node, input, output, proof, containerId, index);
    }
}
