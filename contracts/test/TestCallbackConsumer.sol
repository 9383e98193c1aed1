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

    /// A request that pays `paymentAmount` of `paymentToken` (address(0): ETH) from `wallet`,
    /// optionally with a proof `verifier`.
    function requestPaid(
        string calldata containerId,
        bytes calldata inputs,
        uint16 redundancy,
        address paymentToken,
        uint256 paymentAmount,
        address wallet,
        address verifier
    ) external returns (uint32) {
        return _requestCompute(containerId, inputs, redundancy, paymentToken, paymentAmount, wallet, verifier);
    }

    function _receiveCompute(
        uint32 subscriptionId,
        uint32 interval,
        uint16 redundancy,
        address node,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof,
        bytes32 containerId,
        uint256 index
    ) internal override {
        _record(subscriptionId, interval, redundancy, node, input, output, proof, containerId, index);
    }
}
