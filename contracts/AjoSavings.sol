// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title AjoSavings
/// @notice Rotating savings groups (Ajo / Esusu). Every member pays `contributionAmount` of
/// `token` once per round; when all have paid, the pot goes to the member at position
/// `round - 1`. After `memberCount` rounds the group is completed. Deadlines
/// (`startTime + round * frequency`) are informational: late payments are accepted and the
/// indexer marks them late. Tokens that take a fee on transfer are not supported.
contract AjoSavings is ReentrancyGuard {
    using SafeERC20 for IERC20;

    struct Group {
        // slot 0
        address token;
        uint64 frequency;
        uint16 maxMembers;
        uint16 memberCount;
        // slot 1
        address creator;
        uint32 currentRound;
        uint64 startTime;
        // slot 2
        uint16 paidThisRound;
        bool isActive;
        bool isCompleted;
        // slot 3, 4
        uint256 contributionAmount;
        string name;
    }

    event GroupCreated(
        uint256 indexed groupId,
        address indexed creator,
        address indexed token,
        uint256 contributionAmount,
        uint64 frequency,
        uint16 maxMembers,
        string name
    );
    event MemberJoined(uint256 indexed groupId, address indexed member, uint16 position);
    event GroupStarted(uint256 indexed groupId, uint64 startTime);
    event ContributionMade(
        uint256 indexed groupId, address indexed member, uint32 indexed round, uint256 amount
    );
    event PayoutSent(
        uint256 indexed groupId, address indexed recipient, uint32 indexed round, uint256 amount
    );
    event GroupCompleted(uint256 indexed groupId);

    error GroupNotFound(uint256 groupId);
    error GroupFull(uint256 groupId);
    error AlreadyMember(uint256 groupId, address member);
    error NotMember(uint256 groupId, address account);
    error AlreadyContributed(uint256 groupId, uint32 round, address member);
    error GroupNotActive(uint256 groupId);
    error ZeroAmount();
    error ZeroFrequency();
    error TooFewMembers(uint16 maxMembers);
    error EmptyName();
    error ZeroToken();
    /// @dev The pot (`contributionAmount * maxMembers`) would not fit in a uint256.
    error ContributionTooLarge(uint256 contributionAmount, uint16 maxMembers);

    uint256 private _groupCount;
    mapping(uint256 groupId => Group) private _groups;
    mapping(uint256 groupId => address[]) private _members;
    mapping(uint256 groupId => mapping(address member => bool)) private _isMember;
    mapping(uint256 groupId => mapping(uint32 round => mapping(address member => bool)))
        private _paid;

    function createGroup(
        string calldata name,
        address token,
        uint256 contributionAmount,
        uint64 frequency,
        uint16 maxMembers
    ) external nonReentrant returns (uint256 groupId) {
        if (bytes(name).length == 0) revert EmptyName();
        if (token == address(0)) revert ZeroToken();
        if (contributionAmount == 0) revert ZeroAmount();
        if (frequency == 0) revert ZeroFrequency();
        if (maxMembers < 2) revert TooFewMembers(maxMembers);
        if (contributionAmount > type(uint256).max / maxMembers) {
            revert ContributionTooLarge(contributionAmount, maxMembers);
        }

        groupId = ++_groupCount;
        Group storage g = _groups[groupId];
        g.token = token;
        g.frequency = frequency;
        g.maxMembers = maxMembers;
        g.creator = msg.sender;
        g.contributionAmount = contributionAmount;
        g.name = name;

        emit GroupCreated(
            groupId, msg.sender, token, contributionAmount, frequency, maxMembers, name
        );
        _join(groupId, g, msg.sender);
    }

    function joinGroup(uint256 groupId) external nonReentrant {
        Group storage g = _existing(groupId);
        if (g.memberCount >= g.maxMembers) revert GroupFull(groupId);
        if (_isMember[groupId][msg.sender]) revert AlreadyMember(groupId, msg.sender);
        _join(groupId, g, msg.sender);
    }

    function contribute(uint256 groupId) external nonReentrant {
        Group storage g = _existing(groupId);
        if (!g.isActive) revert GroupNotActive(groupId);
        if (!_isMember[groupId][msg.sender]) revert NotMember(groupId, msg.sender);
        uint32 round = g.currentRound;
        if (_paid[groupId][round][msg.sender]) {
            revert AlreadyContributed(groupId, round, msg.sender);
        }

        _paid[groupId][round][msg.sender] = true;
        uint256 amount = g.contributionAmount;
        uint16 memberCount = g.memberCount;
        uint16 paid = g.paidThisRound + 1;
        bool roundDone = paid == memberCount;
        bool completed = roundDone && round == memberCount;
        address recipient;
        if (roundDone) {
            recipient = _members[groupId][round - 1];
            g.paidThisRound = 0;
            if (completed) {
                g.isActive = false;
                g.isCompleted = true;
            } else {
                g.currentRound = round + 1;
            }
        } else {
            g.paidThisRound = paid;
        }

        IERC20 token = IERC20(g.token);
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit ContributionMade(groupId, msg.sender, round, amount);

        if (roundDone) {
            uint256 pot = amount * memberCount;
            token.safeTransfer(recipient, pot);
            emit PayoutSent(groupId, recipient, round, pot);
            if (completed) emit GroupCompleted(groupId);
        }
    }

    function getGroup(uint256 groupId)
        external
        view
        returns (
            string memory name,
            address token,
            address creator,
            uint256 contributionAmount,
            uint64 frequency,
            uint16 maxMembers,
            uint16 memberCount,
            uint32 currentRound,
            uint64 startTime,
            bool isActive,
            bool isCompleted
        )
    {
        Group storage g = _existing(groupId);
        return (
            g.name,
            g.token,
            g.creator,
            g.contributionAmount,
            g.frequency,
            g.maxMembers,
            g.memberCount,
            g.currentRound,
            g.startTime,
            g.isActive,
            g.isCompleted
        );
    }

    function getMembers(uint256 groupId) external view returns (address[] memory) {
        _existing(groupId);
        return _members[groupId];
    }

    function hasContributed(uint256 groupId, uint32 round, address member)
        external
        view
        returns (bool)
    {
        _existing(groupId);
        return _paid[groupId][round][member];
    }

    function groupCount() external view returns (uint256) {
        return _groupCount;
    }

    function _existing(uint256 groupId) private view returns (Group storage g) {
        if (groupId == 0 || groupId > _groupCount) revert GroupNotFound(groupId);
        g = _groups[groupId];
    }

    function _join(uint256 groupId, Group storage g, address member) private {
        uint16 position = g.memberCount;
        _members[groupId].push(member);
        _isMember[groupId][member] = true;
        g.memberCount = position + 1;
        emit MemberJoined(groupId, member, position);

        if (position + 1 == g.maxMembers) {
            uint64 startTime = uint64(block.timestamp);
            g.startTime = startTime;
            g.currentRound = 1;
            g.isActive = true;
            emit GroupStarted(groupId, startTime);
        }
    }
}
