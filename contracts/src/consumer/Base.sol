// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {Registry} from "../Registry.sol";
import {Coordinator} from "../Coordinator.sol";
import {Inbox} from "../Inbox.sol";

/// Base of every consumer: the coordinator-only callback entry point and the inputs view.
///
/// Source compatibility: every signature a consumer overrides or calls here and in CallbackConsumer,
/// SubscriptionConsumer, Delegator and Allowlist has the parameter data locations of Ritual's SDK v1
/// (`bytes calldata` payloads in `_receiveCompute`/`rawReceiveCompute`, `memory` elsewhere), so a
/// consumer written against Ritual's SDK compiles against these bases unchanged (solc refuses an
/// override whose data locations differ, error 7723). contracts/test/Doc*.sol are such consumers.
abstract contract BaseConsumer {
    error NotCoordinator();

    Coordinator internal immutable COORDINATOR;
    Inbox internal immutable INBOX;

    constructor(address registry) {
        COORDINATOR = Coordinator(Registry(registry).COORDINATOR());
        INBOX = Inbox(Registry(registry).INBOX());
    }

    /// Eager deliveries carry input/output/proof with containerId 0 and index 0; lazy deliveries carry
    /// empty payloads plus the containerId and the Inbox index where they were stored. The payloads
    /// stay in calldata: a consumer copies only what it keeps.
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
    ) internal virtual {}

    function rawReceiveCompute(
        uint32 subscriptionId,
        uint32 interval,
        uint16 redundancy,
        address node,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof,
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
