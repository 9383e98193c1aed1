// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {SubscriptionConsumer} from "../src/consumer/Subscription.sol";
import {Delegator} from "../src/pattern/Delegator.sol";
import {DeliveryRecorder} from "./DeliveryRecorder.sol";

/// Test consumer for recurring, lazy and delegated subscriptions. Inputs are settable, globally or
/// per interval.
contract TestSubscriptionConsumer is SubscriptionConsumer, Delegator, DeliveryRecorder {
    bytes public inputs;
    mapping(uint32 => bytes) public intervalInputs;

    constructor(address registry, address signer) SubscriptionConsumer(registry) Delegator(signer) {}

    function create(string calldata containerId, uint32 frequency, uint32 period, uint16 redundancy, bool lazy)
        external
        returns (uint32)
    {
        return _createComputeSubscription(
            containerId, frequency, period, redundancy, lazy, address(0), 0, address(0), address(0)
        );
    }

    function cancel(uint32 subscriptionId) external {
        _cancelComputeSubscription(subscriptionId);
    }

    function setInputs(bytes calldata newInputs) external {
        inputs = newInputs;
    }

    function setIntervalInputs(uint32 interval, bytes calldata newInputs) external {
        intervalInputs[interval] = newInputs;
    }

    function setSigner(address newSigner) external {
        _updateSigner(newSigner);
    }

    function getContainerInputs(uint32, uint32 interval, uint32, address)
        external
        view
        override
        returns (bytes memory)
    {
        bytes memory perInterval = intervalInputs[interval];
        return perInterval.length > 0 ? perInterval : inputs;
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
