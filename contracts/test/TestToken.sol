// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

/// Test helper: a minimal ERC-20 anyone can mint, for payment tests. `setTransferMode` makes
/// `transfer` behave like tokens seen in the wild: 1 = returns nothing (and still moves the tokens),
/// 2 = returns false (and moves nothing).
contract TestToken {
    string public name = "Test Token";
    string public symbol = "TST";
    uint8 public decimals = 18;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint8 public transferMode;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function setTransferMode(uint8 mode) external {
        transferMode = mode;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        if (transferMode == 2) return false;
        _move(msg.sender, to, amount);
        if (transferMode == 1) {
            assembly {
                return(0, 0)
            }
        }
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= amount, "allowance");
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - amount;
        return _move(from, to, amount);
    }

    function _move(address from, address to, uint256 amount) private returns (bool) {
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
        return true;
    }
}
