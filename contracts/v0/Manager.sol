// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

/// Node registration of Ritual's SDK v0.1.0 (reference ritual-sdk.md §1.1), for the node's
/// `chain.sdk: "0.x"` mode: anyone registers a node, the node activates itself once the
/// cooldown since registration has passed, and only active nodes may deliver.
abstract contract V0Manager {
    enum NodeStatus {
        Inactive,
        Registered,
        Active
    }

    struct NodeInfo {
        NodeStatus status;
        uint32 cooldownStart;
    }

    event NodeRegistered(address indexed node, address indexed registerer, uint32 cooldownStart);
    event NodeActivated(address indexed node);
    event NodeDeactivated(address indexed node);

    error NodeNotActive();
    error NodeNotRegisterable(address node, uint8 status);
    error CooldownActive(uint32 cooldownStart);
    error NodeNotActivateable(uint8 status);

    /// Seconds between registration and the earliest activation.
    uint32 public constant cooldown = 1 hours;

    mapping(address => NodeInfo) public nodeInfo;

    modifier onlyActiveNode() {
        if (nodeInfo[msg.sender].status != NodeStatus.Active) revert NodeNotActive();
        _;
    }

    function registerNode(address node) external {
        NodeInfo storage info = nodeInfo[node];
        if (info.status != NodeStatus.Inactive) revert NodeNotRegisterable(node, uint8(info.status));
        uint32 start = uint32(block.timestamp);
        info.status = NodeStatus.Registered;
        info.cooldownStart = start;
        emit NodeRegistered(node, msg.sender, start);
    }

    function activateNode() external {
        NodeInfo storage info = nodeInfo[msg.sender];
        if (info.status != NodeStatus.Registered) revert NodeNotActivateable(uint8(info.status));
        if (uint32(block.timestamp) < info.cooldownStart + cooldown) revert CooldownActive(info.cooldownStart);
        info.status = NodeStatus.Active;
        emit NodeActivated(msg.sender);
    }

    function deactivateNode() external onlyActiveNode {
        delete nodeInfo[msg.sender];
        emit NodeDeactivated(msg.sender);
    }
}
