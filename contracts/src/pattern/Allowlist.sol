// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

/// Consumer-side list of nodes allowed to deliver.
abstract contract Allowlist {
    error NodeNotAllowed();

    mapping(address => bool) private allowedNodes;

    constructor(address[] memory initialAllowed) {
        for (uint256 i = 0; i < initialAllowed.length; i++) {
            allowedNodes[initialAllowed[i]] = true;
        }
    }

    modifier onlyAllowedNode(address node) {
        if (!allowedNodes[node]) revert NodeNotAllowed();
        _;
    }

    function isAllowedNode(address node) external view returns (bool) {
        return allowedNodes[node];
    }

    function _updateAllowlist(address[] memory nodes, bool[] memory statuses) internal {
        for (uint256 i = 0; i < nodes.length; i++) {
            allowedNodes[nodes[i]] = statuses[i];
        }
    }
}
