// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

/// Single-owner access with a two-step handover. The external surface (functions, events, errors)
/// matches the ownership ABI that Infernet SDK v1 contracts expose, so existing tooling works.
abstract contract Ownable {
    error Unauthorized();
    error NewOwnerIsZeroAddress();
    error NoHandoverRequest();
    error AlreadyInitialized();

    event OwnershipTransferred(address indexed oldOwner, address indexed newOwner);
    event OwnershipHandoverRequested(address indexed pendingOwner);
    event OwnershipHandoverCanceled(address indexed pendingOwner);

    uint64 private constant HANDOVER_VALIDITY = 48 hours;

    address private _owner;
    bool private _ownerInitialized;
    mapping(address => uint256) private _handoverExpiry;

    modifier onlyOwner() {
        if (msg.sender != _owner) revert Unauthorized();
        _;
    }

    function _initializeOwner(address newOwner) internal {
        if (_ownerInitialized) revert AlreadyInitialized();
        _ownerInitialized = true;
        _setOwner(newOwner);
    }

    function _setOwner(address newOwner) internal {
        emit OwnershipTransferred(_owner, newOwner);
        _owner = newOwner;
    }

    function owner() public view returns (address) {
        return _owner;
    }

    function transferOwnership(address newOwner) public payable onlyOwner {
        if (newOwner == address(0)) revert NewOwnerIsZeroAddress();
        _setOwner(newOwner);
    }

    function renounceOwnership() public payable onlyOwner {
        _setOwner(address(0));
    }

    function requestOwnershipHandover() public payable {
        uint256 expires = block.timestamp + HANDOVER_VALIDITY;
        _handoverExpiry[msg.sender] = expires;
        emit OwnershipHandoverRequested(msg.sender);
    }

    function cancelOwnershipHandover() public payable {
        delete _handoverExpiry[msg.sender];
        emit OwnershipHandoverCanceled(msg.sender);
    }

    function completeOwnershipHandover(address pendingOwner) public payable onlyOwner {
        if (block.timestamp > _handoverExpiry[pendingOwner]) revert NoHandoverRequest();
        delete _handoverExpiry[pendingOwner];
        _setOwner(pendingOwner);
    }

    function ownershipHandoverExpiresAt(address pendingOwner) public view returns (uint256) {
        return _handoverExpiry[pendingOwner];
    }
}
