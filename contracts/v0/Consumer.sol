// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

interface IV0Coordinator {
    function createSubscription(
        string memory containerId,
        bytes memory inputs,
        uint48 maxGasPrice,
        uint32 maxGasLimit,
        uint32 frequency,
        uint32 period,
        uint16 redundancy
    ) external returns (uint32);

    function cancelSubscription(uint32 subscriptionId) external;
}

/// Consumer base of SDK v0.1.0: constructed with the coordinator's address; the callback has no
/// containerId or Inbox index.
abstract contract V0BaseConsumer {
    error NotCoordinator();

    address internal immutable COORDINATOR;

    constructor(address coordinator) {
        COORDINATOR = coordinator;
    }

    function _receiveCompute(
        uint32 subscriptionId,
        uint32 interval,
        uint16 redundancy,
        address node,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof
    ) internal virtual {}

    function rawReceiveCompute(
        uint32 subscriptionId,
        uint32 interval,
        uint16 redundancy,
        address node,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof
    ) external {
        if (msg.sender != COORDINATOR) revert NotCoordinator();
        _receiveCompute(subscriptionId, interval, redundancy, node, input, output, proof);
    }
}

/// One-shot requests whose inputs travel in the subscription.
abstract contract V0CallbackConsumer is V0BaseConsumer {
    constructor(address coordinator) V0BaseConsumer(coordinator) {}

    function _requestCompute(
        string memory containerId,
        bytes memory inputs,
        uint48 maxGasPrice,
        uint32 maxGasLimit,
        uint16 redundancy
    ) internal returns (uint32) {
        return IV0Coordinator(COORDINATOR).createSubscription(
            containerId, inputs, maxGasPrice, maxGasLimit, 1, 0, redundancy
        );
    }
}

/// Recurring subscriptions; the node asks for each interval's inputs.
abstract contract V0SubscriptionConsumer is V0BaseConsumer {
    constructor(address coordinator) V0BaseConsumer(coordinator) {}

    function getContainerInputs(uint32 subscriptionId, uint32 interval, uint32 timestamp, address caller)
        external
        view
        virtual
        returns (bytes memory);

    function _createComputeSubscription(
        string memory containerId,
        uint48 maxGasPrice,
        uint32 maxGasLimit,
        uint32 frequency,
        uint32 period,
        uint16 redundancy
    ) internal returns (uint32) {
        return IV0Coordinator(COORDINATOR).createSubscription(
            containerId, "", maxGasPrice, maxGasLimit, frequency, period, redundancy
        );
    }

    function _cancelComputeSubscription(uint32 subscriptionId) internal {
        IV0Coordinator(COORDINATOR).cancelSubscription(subscriptionId);
    }
}
