// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {Coordinator, Subscription} from "./Coordinator.sol";
import {Registry} from "./Registry.sol";
import {Delegator} from "./pattern/Delegator.sol";

/// Coordinator plus subscriptions created from an owner's EIP-712 signature (delegated), optionally
/// created and delivered in one transaction by a node.
contract EIP712Coordinator is Coordinator {
    error SignerMismatch();
    error SignatureExpired();
    error InvalidSignature();

    string public constant EIP712_NAME = "InfernetCoordinator";
    string public constant EIP712_VERSION = "1";

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant SUBSCRIPTION_TYPEHASH = keccak256(
        "Subscription(address owner,uint32 activeAt,uint32 period,uint32 frequency,uint16 redundancy,bytes32 containerId,bool lazy,address verifier,uint256 paymentAmount,address paymentToken,address wallet)"
    );
    bytes32 private constant DELEGATE_TYPEHASH = keccak256(
        "DelegateSubscription(uint32 nonce,uint32 expiry,Subscription sub)Subscription(address owner,uint32 activeAt,uint32 period,uint32 frequency,uint16 redundancy,bytes32 containerId,bool lazy,address verifier,uint256 paymentAmount,address paymentToken,address wallet)"
    );

    mapping(address => uint32) public maxSubscriberNonce;
    mapping(bytes32 => uint32) public delegateCreatedIds;

    bytes32 private immutable CACHED_SEPARATOR;
    uint256 private immutable CACHED_CHAIN_ID;

    constructor(Registry registry) Coordinator(registry) {
        CACHED_CHAIN_ID = block.chainid;
        CACHED_SEPARATOR = _separator();
    }

    function _separator() private view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256(bytes(EIP712_NAME)),
                keccak256(bytes(EIP712_VERSION)),
                block.chainid,
                address(this)
            )
        );
    }

    function _domainSeparator() private view returns (bytes32) {
        return block.chainid == CACHED_CHAIN_ID ? CACHED_SEPARATOR : _separator();
    }

    /// EIP-5267 domain description.
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (hex"0f", EIP712_NAME, EIP712_VERSION, block.chainid, address(this), bytes32(0), new uint256[](0));
    }

    function createSubscriptionDelegatee(
        uint32 nonce,
        uint32 expiry,
        Subscription calldata sub,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) public returns (uint32) {
        return _createDelegated(nonce, expiry, sub, v, r, s);
    }

    /// An (owner, nonce) that already created a subscription returns it unchanged, without looking at
    /// the signature: that is both the replay protection and how further nodes join.
    function _createDelegated(uint32 nonce, uint32 expiry, Subscription calldata sub, uint8 v, bytes32 r, bytes32 s)
        private
        returns (uint32)
    {
        address owner = sub.owner;
        bytes32 key = _key2(uint160(owner), nonce);
        uint32 existing = delegateCreatedIds[key];
        if (existing != 0) return existing;
        if (uint32(block.timestamp) >= expiry) revert SignatureExpired();

        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                _domainSeparator(),
                keccak256(abi.encode(DELEGATE_TYPEHASH, nonce, expiry, keccak256(abi.encode(SUBSCRIPTION_TYPEHASH, sub))))
            )
        );
        address recovered = ecrecover(digest, v, r, s);
        if (recovered == address(0)) revert InvalidSignature();
        if (recovered != Delegator(owner).getSigner()) revert SignerMismatch();

        uint32 subscriptionId = _store(
            _head(owner, sub.activeAt, sub.period, sub.frequency),
            sub.redundancy,
            sub.containerId,
            _flags(sub.lazy, sub.verifier),
            sub.paymentAmount,
            sub.paymentToken,
            sub.wallet
        );
        delegateCreatedIds[key] = subscriptionId;
        if (nonce > maxSubscriberNonce[owner]) maxSubscriberNonce[owner] = nonce;
        return subscriptionId;
    }

    function deliverComputeDelegatee(
        uint32 nonce,
        uint32 expiry,
        Subscription calldata sub,
        uint8 v,
        bytes32 r,
        bytes32 s,
        uint32 deliveryInterval,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof,
        address nodeWallet
    ) public nonReentrant {
        uint32 subscriptionId = _createDelegated(nonce, expiry, sub, v, r, s);
        _deliver(subscriptionId, deliveryInterval, input, output, proof, nodeWallet);
    }
}
