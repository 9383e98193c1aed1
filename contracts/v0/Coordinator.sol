// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {V0Manager} from "./Manager.sol";
import {V0BaseConsumer} from "./Consumer.sol";

/// The coordinator of Ritual's SDK v0.1.0, reproduced from its ABI (reference ritual-sdk.md §1.1)
/// so the node's `chain.sdk: "0.x"` mode runs against it on anvil: subscriptions carry the
/// container ids as a string, callback inputs as bytes and gas limits; deliveries are open to
/// active nodes only and metered against the subscription's gas price and limit.
contract V0Coordinator is V0Manager {
    struct Subscription {
        address owner;
        uint32 activeAt;
        uint32 period;
        uint32 frequency;
        uint16 redundancy;
        uint48 maxGasPrice;
        uint32 maxGasLimit;
        string containerId;
        bytes inputs;
    }

    error GasPriceExceeded();
    error GasLimitExceeded();
    error IntervalMismatch();
    error IntervalCompleted();
    error NodeRespondedAlready();
    error SubscriptionNotFound();
    error NotSubscriptionOwner();
    error SubscriptionCompleted();
    error SubscriptionNotActive();

    event SubscriptionCreated(uint32 indexed id);
    event SubscriptionCancelled(uint32 indexed id);
    event SubscriptionFulfilled(uint32 indexed id, address indexed node);

    /// Gas charged on top of the measured callback when checking `maxGasLimit`.
    uint256 public constant DELIVERY_OVERHEAD_WEI = 56_600;

    /// Next subscription id (ids start at 1).
    uint32 public id = 1;
    mapping(uint32 => Subscription) public subscriptions;
    mapping(bytes32 => uint16) public redundancyCount;
    mapping(bytes32 => bool) public nodeResponded;

    function createSubscription(
        string memory containerId,
        bytes memory inputs,
        uint48 maxGasPrice,
        uint32 maxGasLimit,
        uint32 frequency,
        uint32 period,
        uint16 redundancy
    ) external returns (uint32 subscriptionId) {
        subscriptionId = id++;
        subscriptions[subscriptionId] = Subscription({
            owner: msg.sender,
            activeAt: uint32(block.timestamp) + period,
            period: period,
            frequency: frequency,
            redundancy: redundancy,
            maxGasPrice: maxGasPrice,
            maxGasLimit: maxGasLimit,
            containerId: containerId,
            inputs: inputs
        });
        emit SubscriptionCreated(subscriptionId);
    }

    function cancelSubscription(uint32 subscriptionId) external {
        if (subscriptions[subscriptionId].owner != msg.sender) revert NotSubscriptionOwner();
        delete subscriptions[subscriptionId];
        emit SubscriptionCancelled(subscriptionId);
    }

    function getSubscriptionInterval(uint32 activeAt, uint32 period) public view returns (uint32) {
        if (period == 0) return 1;
        return ((uint32(block.timestamp) - activeAt) / period) + 1;
    }

    function deliverCompute(
        uint32 subscriptionId,
        uint32 deliveryInterval,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof
    ) external onlyActiveNode {
        Subscription storage sub = subscriptions[subscriptionId];
        address owner = sub.owner;
        if (owner == address(0)) revert SubscriptionNotFound();
        if (uint32(block.timestamp) < sub.activeAt) revert SubscriptionNotActive();
        if (tx.gasprice > sub.maxGasPrice) revert GasPriceExceeded();
        uint32 interval = getSubscriptionInterval(sub.activeAt, sub.period);
        if (interval != deliveryInterval) revert IntervalMismatch();
        if (interval > sub.frequency) revert SubscriptionCompleted();
        bytes32 key = keccak256(abi.encode(subscriptionId, interval));
        uint16 count = redundancyCount[key];
        if (count >= sub.redundancy) revert IntervalCompleted();
        bytes32 nodeKey = keccak256(abi.encode(subscriptionId, interval, msg.sender));
        if (nodeResponded[nodeKey]) revert NodeRespondedAlready();
        nodeResponded[nodeKey] = true;
        redundancyCount[key] = ++count;
        uint32 limit = sub.maxGasLimit;
        uint256 start = gasleft();
        V0BaseConsumer(owner).rawReceiveCompute(subscriptionId, interval, count, msg.sender, input, output, proof);
        if (start - gasleft() + DELIVERY_OVERHEAD_WEI > limit) revert GasLimitExceeded();
        emit SubscriptionFulfilled(subscriptionId, msg.sender);
    }
}
