// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {Registry} from "../Registry.sol";
import {Coordinator} from "../Coordinator.sol";
import {Inbox} from "../Inbox.sol";

/// Base of every consumer: the coordinator-only callback entry point and the inputs view.
abstract contract BaseConsumer {
    error NotCoordinator();

    Coordinator internal immutable COORDINATOR;
    Inbox internal immutable INBOX;

    constructor(address registry) {
        COORDINATOR = Coordinator(Registry(registry).COORDINATOR());
        INBOX = Inbox(Registry(registry).INBOX());
    }

    /// Eager deliveries carry input/output/proof with containerId 0 and index 0; lazy deliveries carry
    /// empty payloads plus the containerId and the Inbox index where they were stored.
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
    ) internal virtual {}

    function rawReceiveCompute(
        uint32 subscriptionId,
        uint32 interval,
        uint16 redundancy,
        address node,
        bytes memory input,
        bytes memory output,
        bytes memory proof,
        bytes32 containerId,
        uint256 index
    ) external {
        if (msg.sender != address(COORDINATOR)) revert NotCoordinator();
        _receiveCompute(subscriptionId, interval, redundancy, node, input, output, proof, containerId, index);
    }

    /// Inputs the node passes to the first container (hex-encoded) for this interval.
    function getContainerInputs(uint32 subscriptionId, uint32 interval, uint32 timestamp, address caller)
        external
        view
        virtual
        returns (bytes memory)
    {}
}
