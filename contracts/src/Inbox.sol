// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {Registry} from "./Registry.sol";
import {Coordinated} from "./utility/Coordinated.sol";

/// One stored compute response.
struct InboxItem {
    uint32 timestamp;
    uint32 subscriptionId;
    uint32 interval;
    bytes input;
    bytes output;
    bytes proof;
}

/// Append-only responses per (containerId, node): written by the coordinator for lazy
/// subscriptions, or by anyone directly (then with subscription id and interval 0).
contract Inbox is Coordinated {
    event NewInboxItem(bytes32 indexed containerId, address indexed node, uint256 index);

    mapping(bytes32 => mapping(address => InboxItem[])) public items;

    constructor(Registry registry) Coordinated(registry) {}

    function write(bytes32 containerId, bytes calldata input, bytes calldata output, bytes calldata proof)
        external
        returns (uint256)
    {
        return _append(containerId, msg.sender, 0, 0, input, output, proof);
    }

    function writeViaCoordinator(
        bytes32 containerId,
        address node,
        uint32 subscriptionId,
        uint32 interval,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof
    ) external onlyCoordinator returns (uint256) {
        return _append(containerId, node, subscriptionId, interval, input, output, proof);
    }

    function _append(
        bytes32 containerId,
        address node,
        uint32 subscriptionId,
        uint32 interval,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof
    ) private returns (uint256 index) {
        InboxItem[] storage list = items[containerId][node];
        index = list.length;
        list.push(InboxItem(uint32(block.timestamp), subscriptionId, interval, input, output, proof));
        emit NewInboxItem(containerId, node, index);
    }

    function read(bytes32 containerId, address node, uint256 index) external view returns (InboxItem memory) {
        return items[containerId][node][index];
    }
}
