// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

/// Reentrancy lock kept in a fixed storage slot (not slot 0) so that the Coordinator's public state
/// keeps the storage layout nodes and explorers expect.
///
/// The lock is set to "unlocked" (1) at deployment: entering flips it 1 -> 2 and leaving restores 1,
/// so no call ever pays for a zero -> non-zero write (the first delivery on a fresh coordinator
/// would otherwise pay 20 000 gas more than the others).
abstract contract ReentrancyGuard {
    error Reentrancy();

    /// An arbitrary fixed slot, far away from anything the compiler lays out.
    uint256 private constant LOCK_SLOT = 0x6e0d4f0f8b3f9e1a54bb16d0e3d2a7f1d1a3c0b2f8e9c4d5a6b7c8d9e0f1a2b3;
    uint256 private constant UNLOCKED = 1;
    uint256 private constant LOCKED = 2;

    constructor() {
        assembly ("memory-safe") {
            sstore(LOCK_SLOT, UNLOCKED)
        }
    }

    modifier nonReentrant() {
        assembly ("memory-safe") {
            if eq(sload(LOCK_SLOT), LOCKED) {
                mstore(0x00, 0xab143c06) // Reentrancy()
                revert(0x1c, 0x04)
            }
            sstore(LOCK_SLOT, LOCKED)
        }
        _;
        assembly ("memory-safe") {
            sstore(LOCK_SLOT, UNLOCKED)
        }
    }
}
