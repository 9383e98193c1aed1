// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

/// Test helper: keeps every delivery a consumer received, by (subscription, interval), and can be told
/// to reject deliveries for chosen intervals.
abstract contract DeliveryRecorder {
    struct Delivery {
        uint16 redundancy;
        address node;
        bytes input;
        bytes output;
        bytes proof;
        bytes32 containerId;
        uint256 index;
    }

    mapping(uint32 => mapping(uint32 => Delivery[])) private received;
    mapping(uint32 => bool) public revertAtInterval;
    uint256 public totalDeliveries;

    function setRevertAtInterval(uint32 interval, bool shouldRevert) external {
        revertAtInterval[interval] = shouldRevert;
    }

    function deliveryCount(uint32 subscriptionId, uint32 interval) external view returns (uint256) {
        return received[subscriptionId][interval].length;
    }

    function delivery(uint32 subscriptionId, uint32 interval, uint256 i) external view returns (Delivery memory) {
        return received[subscriptionId][interval][i];
    }

    function _record(
        uint32 subscriptionId,
        uint32 interval,
        uint16 redundancy,
        address node,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof,
        bytes32 containerId,
        uint256 index
    ) internal {
        require(!revertAtInterval[interval], "TestConsumer: reverting on purpose");
        received[subscriptionId][interval].push(Delivery(redundancy, node, input, output, proof, containerId, index));
        totalDeliveries += 1;
    }
}
