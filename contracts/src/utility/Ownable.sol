// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

/// Single-owner access with a two-step handover. The external surface (functions, events, errors)
/// matches the ownership ABI that Infernet SDK v1 contracts expose, so existing tooling works.
///
/// Storage: the handover mapping comes first and the owner last, so that a contract deriving from
/// this one can pack small values next to the owner (Fee keeps its FEE there: reading the fee and
/// then its recipient costs one cold storage read, not two).
abstract contract Ownable {
    error Unauthorized();
    error NewOwnerIsZeroAddress();
    error NoHandoverRequest();
    /// Part of the ownership ABI; the owner is only ever initialized once, in a constructor.
    error AlreadyInitialized();

    event OwnershipTransferred(address indexed oldOwner, address indexed newOwner);
    event OwnershipHandoverRequested(address indexed pendingOwner);
    event OwnershipHandoverCanceled(address indexed pendingOwner);

    uint256 private constant HANDOVER_VALIDITY = 48 hours;

    mapping(address => uint256) private _handoverExpiry;
    address private _owner;

    modifier onlyOwner() {
        if (msg.sender != _owner) revert Unauthorized();
        _;
    }

    /// For constructors only.
    function _initializeOwner(address newOwner) internal {
        _owner = newOwner;
        emit OwnershipTransferred(address(0), newOwner);
    }

    function _setOwner(address newOwner) private {
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
        unchecked {
            _handoverExpiry[msg.sender] = block.timestamp + HANDOVER_VALIDITY;
        }
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
