// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {Ownable} from "../utility/Ownable.sol";
import {Coordinated} from "../utility/Coordinated.sol";
import {TokenTransfer} from "../utility/TokenTransfer.sol";
import {Registry} from "../Registry.sol";

/// Escrow wallet of a payer (consumer) or payee (node). The owner grants spenders allowances per
/// token; the coordinator moves, locks and unlocks funds against those allowances.
contract Wallet is Ownable, Coordinated {
    error InsufficientFunds();
    error InsufficientAllowance();

    event Withdrawl(address token, uint256 amount);
    event Approval(address indexed spender, address token, uint256 amount);
    event Escrow(address indexed spender, address token, uint256 amount, bool locked);
    event Transfer(address indexed spender, address token, address indexed to, uint256 amount);

    /// spender => token => amount the coordinator may move on the spender's behalf
    mapping(address => mapping(address => uint256)) public allowance;
    /// token => amount held in escrow
    mapping(address => uint256) private lockedBalance;

    constructor(Registry registry, address initialOwner) Coordinated(registry) {
        _initializeOwner(initialOwner);
    }

    receive() external payable {}

    /// Balance not held in escrow (reverts with a panic if escrow exceeds the balance).
    function _unlocked(address token) private view returns (uint256) {
        return TokenTransfer.balanceOf(token, address(this)) - lockedBalance[token];
    }

    /// Takes `amount` off the spender's allowance.
    function _spend(address spender, address token, uint256 amount) private {
        uint256 allowed = allowance[spender][token];
        if (allowed < amount) revert InsufficientAllowance();
        unchecked {
            allowance[spender][token] = allowed - amount;
        }
    }

    function withdraw(address token, uint256 amount) external onlyOwner {
        if (amount > _unlocked(token)) revert InsufficientFunds();
        TokenTransfer.send(token, msg.sender, amount);
        emit Withdrawl(token, amount);
    }

    function approve(address spender, address token, uint256 amount) external onlyOwner {
        allowance[spender][token] = amount;
        emit Approval(spender, token, amount);
    }

    function cTransfer(address spender, address token, address to, uint256 amount) external onlyCoordinator {
        _spend(spender, token, amount);
        TokenTransfer.send(token, to, amount);
        emit Transfer(spender, token, to, amount);
    }

    function cLock(address spender, address token, uint256 amount) external onlyCoordinator {
        if (amount > _unlocked(token)) revert InsufficientFunds();
        _spend(spender, token, amount);
        unchecked {
            // locked + amount <= balance
            lockedBalance[token] += amount;
        }
        emit Escrow(spender, token, amount, true);
    }

    function cUnlock(address spender, address token, uint256 amount) external onlyCoordinator {
        uint256 locked = lockedBalance[token];
        if (amount > locked) revert InsufficientFunds();
        unchecked {
            lockedBalance[token] = locked - amount;
        }
        allowance[spender][token] += amount;
        emit Escrow(spender, token, amount, false);
    }
}
