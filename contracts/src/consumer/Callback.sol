// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {BaseConsumer} from "./Base.sol";

/// One-shot requests (frequency 1, period 0, eager) whose inputs are kept here for the node.
abstract contract CallbackConsumer is BaseConsumer {
    mapping(uint32 => bytes) internal subscriptionInputs;

    constructor(address registry) BaseConsumer(registry) {}

    function _requestCompute(
        string memory containerId,
        bytes memory inputs,
        uint16 redundancy,
        address paymentToken,
        uint256 paymentAmount,
        address wallet,
        address verifier
    ) internal returns (uint32 subscriptionId) {
        subscriptionId = COORDINATOR.createSubscription(
            containerId, 1, 0, redundancy, false, paymentToken, paymentAmount, wallet, verifier
        );
        subscriptionInputs[subscriptionId] = inputs;
    }

    function getContainerInputs(uint32 subscriptionId, uint32, uint32, address)
        external
        view
        virtual
        override
        returns (bytes memory)
    {
        return subscriptionInputs[subscriptionId];
    }
}
