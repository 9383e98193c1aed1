// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {BaseConsumer} from "./Base.sol";

/// Recurring subscriptions owned by this contract.
abstract contract SubscriptionConsumer is BaseConsumer {
    constructor(address registry) BaseConsumer(registry) {}

    function _createComputeSubscription(
        string memory containerId,
        uint32 frequency,
        uint32 period,
        uint16 redundancy,
        bool lazy,
        address paymentToken,
        uint256 paymentAmount,
        address wallet,
        address verifier
    ) internal returns (uint32) {
        return COORDINATOR.createSubscription(
            containerId, frequency, period, redundancy, lazy, paymentToken, paymentAmount, wallet, verifier
        );
    }

    function _cancelComputeSubscription(uint32 subscriptionId) internal {
        COORDINATOR.cancelSubscription(subscriptionId);
    }
}
