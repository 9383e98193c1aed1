// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

/// Names the EOA allowed to sign delegated subscriptions on this contract's behalf.
abstract contract Delegator {
    address private signer;

    constructor(address initialSigner) {
        signer = initialSigner;
    }

    function getSigner() external view returns (address) {
        return signer;
    }

    /// Rotating the signer invalidates unused signatures of the old one (created subscriptions stay).
    function _updateSigner(address newSigner) internal {
        signer = newSigner;
    }
}
