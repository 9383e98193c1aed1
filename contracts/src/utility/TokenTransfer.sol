// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

/// ETH and ERC-20 transfers that also accept tokens which return nothing from `transfer`.
library TokenTransfer {
    error TransferFailed();
    error ETHTransferFailed();

    function send(address token, address to, uint256 amount) internal {
        if (token == address(0)) {
            (bool ok,) = payable(to).call{value: amount}("");
            if (!ok) revert ETHTransferFailed();
            return;
        }
        (bool success, bytes memory ret) = token.call(abi.encodeWithSelector(0xa9059cbb, to, amount));
        if (!success || (ret.length != 0 && !abi.decode(ret, (bool))) || token.code.length == 0) {
            revert TransferFailed();
        }
    }

    function balanceOf(address token, address who) internal view returns (uint256) {
        if (token == address(0)) return who.balance;
        (bool success, bytes memory ret) = token.staticcall(abi.encodeWithSelector(0x70a08231, who));
        if (!success || ret.length < 32) return 0;
        return abi.decode(ret, (uint256));
    }
}
