// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

/// Reentrancy lock kept in a fixed storage slot (not slot 0) so that the Coordinator's public state
/// keeps the storage layout nodes and explorers expect.
abstract contract ReentrancyGuard {
    error Reentrancy();

    /// An arbitrary fixed slot, far away from anything the compiler lays out.
    uint256 private constant LOCK_SLOT = 0x6e0d4f0f8b3f9e1a54bb16d0e3d2a7f1d1a3c0b2f8e9c4d5a6b7c8d9e0f1a2b3;

    modifier nonReentrant() {
        uint256 locked;
        assembly {
            locked := sload(LOCK_SLOT)
        }
        if (locked == 2) revert Reentrancy();
        assembly {
            sstore(LOCK_SLOT, 2)
        }
        _;
        assembly {
            sstore(LOCK_SLOT, 1)
        }
    }
}
