// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

/// ETH and ERC-20 transfers that also accept tokens which return nothing from `transfer`.
/// Written in assembly to keep the Wallet small: every Wallet is deployed by the factory, and its
/// code size is most of what creating one costs.
library TokenTransfer {
    error TransferFailed();
    error ETHTransferFailed();

    /// Sends `amount` of `token` (address(0): ETH) to `to`. An ERC-20 must succeed and return
    /// either nothing (then it must have code) or true.
    function send(address token, address to, uint256 amount) internal {
        bool ok;
        if (token == address(0)) {
            assembly ("memory-safe") {
                ok := call(gas(), to, amount, 0, 0, 0, 0)
            }
            if (!ok) revert ETHTransferFailed();
            return;
        }
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, shl(224, 0xa9059cbb)) // transfer(address,uint256)
            mstore(add(m, 0x04), to)
            mstore(add(m, 0x24), amount)
            mstore(0x00, 0)
            ok := call(gas(), token, 0, m, 0x44, 0x00, 0x20)
            switch returndatasize()
            case 0 { ok := and(ok, gt(extcodesize(token), 0)) }
            default { ok := and(ok, and(gt(returndatasize(), 0x1f), eq(mload(0x00), 1))) }
        }
        if (!ok) revert TransferFailed();
    }

    /// `who`'s balance of `token` (address(0): ETH); 0 when the token does not answer.
    function balanceOf(address token, address who) internal view returns (uint256 amount) {
        if (token == address(0)) return who.balance;
        assembly ("memory-safe") {
            mstore(0x00, 0x70a08231) // balanceOf(address)
            mstore(0x20, who)
            let ok := staticcall(gas(), token, 0x1c, 0x24, 0x20, 0x20)
            if and(ok, gt(returndatasize(), 0x1f)) { amount := mload(0x20) }
        }
    }
}
