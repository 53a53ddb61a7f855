// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestToken
/// @notice Development ERC-20 that anyone can mint. Never deploy it where tokens have value.
contract TestToken is ERC20 {
    uint8 private immutable _decimals;

    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) {
        _decimals = decimals_;
    }

    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Mints `amount` to `to`. Open to anyone: this is a dev token.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Mints `amount` to each address in `to`, so a simulation funds many accounts in one tx.
    function mintMany(address[] calldata to, uint256 amount) external {
        for (uint256 i = 0; i < to.length; ++i) {
            _mint(to[i], amount);
        }
    }
}
