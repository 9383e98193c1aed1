// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {Registry} from "./Registry.sol";
import {Inbox} from "./Inbox.sol";
import {Fee} from "./payments/Fee.sol";
import {Wallet} from "./payments/Wallet.sol";
import {WalletFactory} from "./payments/WalletFactory.sol";
import {IVerifier} from "./payments/IVerifier.sol";
import {BaseConsumer} from "./consumer/Base.sol";
import {ReentrancyGuard} from "./utility/ReentrancyGuard.sol";

/// A compute subscription. Field order is part of the ABI (Reader, EIP-712 type, events).
struct Subscription {
    address owner;
    /// first timestamp a response is accepted; type(uint32).max once cancelled
    uint32 activeAt;
    /// seconds per interval; 0 = a one-shot (callback) request
    uint32 period;
    /// number of intervals
    uint32 frequency;
    /// distinct nodes accepted per interval
    uint16 redundancy;
    /// keccak256(abi.encode(string "id1,id2,..."))
    bytes32 containerId;
    /// outputs go to the Inbox; the consumer gets a pointer
    bool lazy;
    address payable verifier;
    uint256 paymentAmount;
    address paymentToken;
    address payable wallet;
}

/// A pending proof settlement, keyed like `nodeResponded`.
struct ProofRequest {
    uint32 expiry;
    address nodeWallet;
    uint256 consumerEscrowed;
}

/// Creates subscriptions, accepts deliveries from any node, settles payments and proofs.
///
/// Gas notes. A stored `Subscription` keeps the compiler's layout for the struct (7 slots:
/// owner|activeAt|period|frequency, redundancy, containerId, lazy|verifier, paymentAmount,
/// paymentToken, wallet), but it is written with only its non-zero slots (ids are never reused, so
/// the others are already zero) and read slot by slot, as far as a delivery needs: an unpaid eager
/// delivery reads 4 of the 7 slots. Payloads stay in calldata all the way to the consumer.
contract Coordinator is ReentrancyGuard {
    error InvalidWallet();
    error IntervalMismatch();
    error IntervalCompleted();
    error UnauthorizedVerifier();
    error NodeRespondedAlready();
    error SubscriptionNotFound();
    error ProofRequestNotFound();
    error NotSubscriptionOwner();
    error SubscriptionCompleted();
    error SubscriptionNotActive();
    error UnsupportedVerifierToken();

    event SubscriptionCreated(uint32 indexed id);
    event SubscriptionCancelled(uint32 indexed id);
    event SubscriptionFulfilled(uint32 indexed id, address indexed node);
    event ProofVerified(
        uint32 indexed id, uint32 indexed interval, address indexed node, bool active, address verifier, bool valid
    );

    uint32 private constant CANCELLED = type(uint32).max;
    uint32 private constant PROOF_WINDOW = 1 weeks;
    uint256 private constant FEE_DENOMINATOR = 10_000;

    /// Slot offsets inside a stored Subscription (see the gas notes above).
    uint256 private constant S_HEAD = 0; // owner | activeAt << 160 | period << 192 | frequency << 224
    uint256 private constant S_REDUNDANCY = 1;
    uint256 private constant S_CONTAINER = 2;
    uint256 private constant S_FLAGS = 3; // lazy | verifier << 8
    uint256 private constant S_AMOUNT = 4;
    uint256 private constant S_TOKEN = 5;
    uint256 private constant S_WALLET = 6;

    /// Next subscription id; ids start at 1 and are never reused.
    uint32 public id = 1;
    mapping(bytes32 => bool) public nodeResponded;
    mapping(bytes32 => uint16) public redundancyCount;
    mapping(bytes32 => ProofRequest) public proofRequests;
    mapping(uint32 => Subscription) internal subscriptions;

    Inbox private immutable INBOX;
    Fee private immutable FEES;
    WalletFactory private immutable WALLET_FACTORY;

    /// What a paid delivery needs of its subscription.
    struct Payment {
        address owner;
        address verifier;
        uint256 amount;
        address token;
        address wallet;
    }

    constructor(Registry registry) {
        INBOX = Inbox(registry.INBOX());
        FEES = Fee(registry.FEE());
        WALLET_FACTORY = WalletFactory(registry.WALLET_FACTORY());
    }

    function getSubscription(uint32 subscriptionId) external view returns (Subscription memory) {
        return subscriptions[subscriptionId];
    }

    /// Interval n covers [activeAt + (n-1)*period, activeAt + n*period). Only meaningful once active.
    function getSubscriptionInterval(uint32 activeAt, uint32 period) public view returns (uint32) {
        if (period == 0) return 1;
        unchecked {
            return ((uint32(block.timestamp) - activeAt) / period) + 1;
        }
    }

    function createSubscription(
        string calldata containerId,
        uint32 frequency,
        uint32 period,
        uint16 redundancy,
        bool lazy,
        address paymentToken,
        uint256 paymentAmount,
        address wallet,
        address verifier
    ) external returns (uint32) {
        uint32 activeAt = uint32(block.timestamp) + period;
        return _store(
            _head(msg.sender, activeAt, period, frequency),
            redundancy,
            keccak256(abi.encode(containerId)),
            _flags(lazy, verifier),
            paymentAmount,
            paymentToken,
            wallet
        );
    }

    function _head(address owner, uint32 activeAt, uint32 period, uint32 frequency) internal pure returns (uint256) {
        return uint256(uint160(owner)) | (uint256(activeAt) << 160) | (uint256(period) << 192)
            | (uint256(frequency) << 224);
    }

    function _flags(bool lazy, address verifier) internal pure returns (uint256) {
        return (lazy ? 1 : 0) | (uint256(uint160(verifier)) << 8);
    }

    function _slot(uint32 subscriptionId) internal view returns (uint256 base) {
        Subscription storage s = subscriptions[subscriptionId];
        assembly ("memory-safe") {
            base := s.slot
        }
    }

    function _load(uint256 base, uint256 offset) internal view returns (uint256 word) {
        assembly ("memory-safe") {
            word := sload(add(base, offset))
        }
    }

    /// Stores a new subscription under the next id, writing only its non-zero slots: a new id's slots
    /// are all zero (ids are never reused; the uint32 counter would have to wrap first).
    function _store(
        uint256 head,
        uint16 redundancy,
        bytes32 containerId,
        uint256 flags,
        uint256 paymentAmount,
        address paymentToken,
        address wallet
    ) internal returns (uint32 subscriptionId) {
        unchecked {
            subscriptionId = id++;
        }
        uint256 base = _slot(subscriptionId);
        assembly ("memory-safe") {
            // The head always holds the owner (non-zero for any real subscription).
            sstore(base, head)
            if redundancy { sstore(add(base, 1), redundancy) }
            if containerId { sstore(add(base, 2), containerId) }
            if flags { sstore(add(base, 3), flags) }
            if paymentAmount { sstore(add(base, 4), paymentAmount) }
            if paymentToken { sstore(add(base, 5), paymentToken) }
            if wallet { sstore(add(base, 6), wallet) }
        }
        emit SubscriptionCreated(subscriptionId);
    }

    function cancelSubscription(uint32 subscriptionId) external {
        Subscription storage s = subscriptions[subscriptionId];
        if (s.owner != msg.sender) revert NotSubscriptionOwner();
        s.activeAt = CANCELLED;
        emit SubscriptionCancelled(subscriptionId);
    }

    function deliverCompute(
        uint32 subscriptionId,
        uint32 deliveryInterval,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof,
        address nodeWallet
    ) public nonReentrant {
        _deliver(subscriptionId, deliveryInterval, input, output, proof, nodeWallet);
    }

    /// Checks run in a fixed order: it decides which error a racing node sees.
    function _deliver(
        uint32 subscriptionId,
        uint32 deliveryInterval,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof,
        address nodeWallet
    ) internal {
        uint256 base = _slot(subscriptionId);
        uint256 head = _load(base, S_HEAD);
        address owner = address(uint160(head));
        if (owner == address(0)) revert SubscriptionNotFound();
        uint32 activeAt = uint32(head >> 160);
        if (uint32(block.timestamp) < activeAt) revert SubscriptionNotActive();
        uint32 interval = getSubscriptionInterval(activeAt, uint32(head >> 192));
        if (interval != deliveryInterval) revert IntervalMismatch();
        if (interval > uint32(head >> 224)) revert SubscriptionCompleted();

        uint16 count = _countDelivery(subscriptionId, interval, uint16(_load(base, S_REDUNDANCY)));

        uint256 flags = _load(base, S_FLAGS);
        uint256 amount = _load(base, S_AMOUNT);
        if (amount != 0) {
            _pay(
                Payment({
                    owner: owner,
                    verifier: address(uint160(flags >> 8)),
                    amount: amount,
                    token: address(uint160(_load(base, S_TOKEN))),
                    wallet: address(uint160(_load(base, S_WALLET)))
                }),
                subscriptionId,
                interval,
                nodeWallet,
                proof
            );
        }

        if (flags & 1 != 0) {
            bytes32 containerId = bytes32(_load(base, S_CONTAINER));
            uint256 index =
                INBOX.writeViaCoordinator(containerId, msg.sender, subscriptionId, interval, input, output, proof);
            BaseConsumer(owner).rawReceiveCompute(
                subscriptionId, interval, count, msg.sender, "", "", "", containerId, index
            );
        } else {
            BaseConsumer(owner).rawReceiveCompute(
                subscriptionId, interval, count, msg.sender, input, output, proof, bytes32(0), 0
            );
        }
        emit SubscriptionFulfilled(subscriptionId, msg.sender);
    }

    /// keccak256(abi.encode(a, b)) without allocating memory.
    function _key2(uint256 a, uint256 b) internal pure returns (bytes32 k) {
        assembly ("memory-safe") {
            mstore(0x00, a)
            mstore(0x20, b)
            k := keccak256(0x00, 0x40)
        }
    }

    /// keccak256(abi.encode(a, b, c)), in the scratch space and the free memory (left as it was).
    function _key3(uint256 a, uint256 b, uint256 c) internal pure returns (bytes32 k) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, a)
            mstore(add(p, 0x20), b)
            mstore(add(p, 0x40), c)
            k := keccak256(p, 0x60)
        }
    }

    /// Redundancy before the per-node check (so a second delivery on redundancy 1 sees IntervalCompleted).
    function _countDelivery(uint32 subscriptionId, uint32 interval, uint16 redundancy) private returns (uint16) {
        bytes32 key = _key2(subscriptionId, interval);
        uint16 count = redundancyCount[key];
        if (count == redundancy) revert IntervalCompleted();
        unchecked {
            // count < redundancy <= type(uint16).max
            count += 1;
        }
        redundancyCount[key] = count;
        bytes32 nodeKey = _key3(subscriptionId, interval, uint160(msg.sender));
        if (nodeResponded[nodeKey]) revert NodeRespondedAlready();
        nodeResponded[nodeKey] = true;
        return count;
    }

    /// Protocol fee is charged twice on the payment (consumer side and node side) and once on the
    /// verifier fee.
    function _pay(Payment memory p, uint32 subscriptionId, uint32 interval, address nodeWallet, bytes calldata proof)
        private
    {
        if (!WALLET_FACTORY.isValidWallet(p.wallet) || !WALLET_FACTORY.isValidWallet(nodeWallet)) {
            revert InvalidWallet();
        }
        Wallet consumer = Wallet(payable(p.wallet));
        uint256 feeBp = FEES.FEE();
        address recipient = FEES.FEE_RECIPIENT();
        uint256 protocolFee = (p.amount * (feeBp * 2)) / FEE_DENOMINATOR;
        consumer.cTransfer(p.owner, p.token, recipient, protocolFee);

        if (p.verifier == address(0)) {
            consumer.cTransfer(p.owner, p.token, nodeWallet, p.amount - protocolFee);
            return;
        }

        IVerifier verifier = IVerifier(payable(p.verifier));
        if (!verifier.isSupportedToken(p.token)) revert UnsupportedVerifierToken();
        uint256 verifierFee = verifier.fee(p.token);
        uint256 protocolCut = (verifierFee * feeBp) / FEE_DENOMINATOR;
        consumer.cTransfer(p.owner, p.token, recipient, protocolCut);
        consumer.cTransfer(p.owner, p.token, verifier.getWallet(), verifierFee - protocolCut);

        // The node stakes the full payment; the consumer escrows what the node would be paid.
        Wallet(payable(nodeWallet)).cLock(msg.sender, p.token, p.amount);
        uint256 escrowed = p.amount - protocolFee - verifierFee;
        consumer.cLock(p.owner, p.token, escrowed);

        proofRequests[_key3(subscriptionId, interval, uint160(msg.sender))] = ProofRequest({
            expiry: uint32(block.timestamp) + PROOF_WINDOW,
            nodeWallet: nodeWallet,
            consumerEscrowed: escrowed
        });
        verifier.requestProofVerification(subscriptionId, interval, msg.sender, proof);
    }

    /// Settles a proof request: by the verifier while the window is open, by anyone after it.
    /// Not `nonReentrant`: an atomic verifier calls it from inside a delivery.
    function finalizeProofVerification(uint32 subscriptionId, uint32 interval, address node, bool valid) external {
        bytes32 key = _key3(subscriptionId, interval, uint160(node));
        ProofRequest storage stored = proofRequests[key];
        uint32 expiry = stored.expiry;
        if (expiry == 0) revert ProofRequestNotFound();
        address payable nodeWalletAddress = payable(stored.nodeWallet);
        uint256 escrowed = stored.consumerEscrowed;
        uint256 base = _slot(subscriptionId);
        bool active = uint32(block.timestamp) < expiry;
        if (active && msg.sender != address(uint160(_load(base, S_FLAGS) >> 8))) revert UnauthorizedVerifier();
        delete proofRequests[key];

        address owner = address(uint160(_load(base, S_HEAD)));
        uint256 amount = _load(base, S_AMOUNT);
        address token = address(uint160(_load(base, S_TOKEN)));
        address payable walletAddress = payable(address(uint160(_load(base, S_WALLET))));
        Wallet nodeWallet = Wallet(nodeWalletAddress);
        Wallet consumer = Wallet(walletAddress);
        nodeWallet.cUnlock(node, token, amount);
        consumer.cUnlock(owner, token, escrowed);

        if (!active || valid) {
            consumer.cTransfer(owner, token, nodeWalletAddress, escrowed);
        } else {
            // Invalid proof: the node's stake goes to the consumer.
            nodeWallet.cTransfer(node, token, walletAddress, amount);
        }
        emit ProofVerified(subscriptionId, interval, node, active, msg.sender, valid);
    }
}
