// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {Ownable} from "../utility/Ownable.sol";

/// Protocol fee in basis points of 10 000; the fee recipient is the owner.
contract Fee is Ownable {
    /// Shares its storage slot with the owner (Ownable declares the owner last): a paid delivery
    /// reads FEE() and then FEE_RECIPIENT() for one cold storage read.
    uint16 public FEE;

    constructor(address feeRecipient, uint16 fee) {
        _initializeOwner(feeRecipient);
        FEE = fee;
    }

    function FEE_RECIPIENT() external view returns (address) {
        return owner();
    }

    function updateFee(uint16 newFee) external onlyOwner {
        FEE = newFee;
    }
}
