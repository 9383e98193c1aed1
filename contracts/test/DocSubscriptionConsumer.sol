// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

// A recurring consumer written the way Ritual's Infernet SDK documentation shows one, with the
// Delegator and Allowlist patterns and lazy (Inbox) deliveries: the SDK's import paths and the
// documented `_receiveCompute` override (`bytes calldata` payloads, `onlyAllowedNode`). It has to
// compile against our bases unchanged (build.mjs stops on any compile error).
import {SubscriptionConsumer} from "infernet-sdk/consumer/Subscription.sol";
import {Delegator} from "infernet-sdk/pattern/Delegator.sol";
import {Allowlist} from "infernet-sdk/pattern/Allowlist.sol";
import {InboxItem} from "infernet-sdk/Inbox.sol";

contract DocSubscriptionConsumer is SubscriptionConsumer, Delegator, Allowlist {
    struct Response {
        address node;
        bytes input;
        bytes output;
        bytes proof;
        bytes32 containerId;
        uint256 index;
    }

    /// subscription id => interval => redundancy => what that delivery carried (read from the
    /// Inbox for lazy subscriptions)
    mapping(uint32 => mapping(uint32 => mapping(uint16 => Response))) public responses;
    bytes public containerInputs;

    constructor(address registry, address signer, address[] memory initialAllowed)
        SubscriptionConsumer(registry)
        Delegator(signer)
        Allowlist(initialAllowed)
    {}

    function subscribe(string calldata containerId, uint32 frequency, uint32 period, uint16 redundancy, bool lazy)
        external
        returns (uint32)
    {
        return _createComputeSubscription(
            containerId, frequency, period, redundancy, lazy, address(0), 0, address(0), address(0)
        );
    }

    function unsubscribe(uint32 subscriptionId) external {
        _cancelComputeSubscription(subscriptionId);
    }

    function setContainerInputs(bytes calldata inputs) external {
        containerInputs = inputs;
    }

    function updateAllowlist(address[] memory nodes, bool[] memory statuses) external {
        _updateAllowlist(nodes, statuses);
    }

    function getContainerInputs(uint32, uint32, uint32, address) external view override returns (bytes memory) {
        return containerInputs;
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
    ) internal override onlyAllowedNode(node) {
        if (containerId != bytes32(0)) {
            // Lazy: the payloads wait in the Inbox.
            InboxItem memory item = INBOX.read(containerId, node, index);
            responses[subscriptionId][interval][redundancy] =
                Response(node, item.input, item.output, item.proof, containerId, index);
        } else {
            responses[subscriptionId][interval][redundancy] =
                Response(node, input, output, proof, containerId, index);
        }
    }
}
