// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {Registry} from "./Registry.sol";
import {Coordinator, Subscription} from "./Coordinator.sol";

/// Batched views for nodes: many subscriptions or redundancy counts in one eth_call.
contract Reader {
    Coordinator private immutable COORDINATOR;

    constructor(Registry registry) {
        COORDINATOR = Coordinator(registry.COORDINATOR());
    }

    /// Ids in [startId, endId); unknown ids come back zeroed.
    function readSubscriptionBatch(uint32 startId, uint32 endId) external view returns (Subscription[] memory subs) {
        uint32 length = endId - startId;
        subs = new Subscription[](length);
        for (uint32 i = 0; i < length; i++) {
            subs[i] = COORDINATOR.getSubscription(startId + i);
        }
    }

    /// Pairwise (ids[i], intervals[i]) redundancy counts.
    function readRedundancyCountBatch(uint32[] calldata ids, uint32[] calldata intervals)
        external
        view
        returns (uint16[] memory counts)
    {
        counts = new uint16[](ids.length);
        for (uint256 i = 0; i < ids.length; i++) {
            counts[i] = COORDINATOR.redundancyCount(keccak256(abi.encode(ids[i], intervals[i])));
        }
    }
}
