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

    /// Next subscription id; ids start at 1 and are never reused.
    uint32 public id = 1;
    mapping(bytes32 => bool) public nodeResponded;
    mapping(bytes32 => uint16) public redundancyCount;
    mapping(bytes32 => ProofRequest) public proofRequests;
    mapping(uint32 => Subscription) internal subscriptions;

    Inbox private immutable INBOX;
    Fee private immutable FEES;
    WalletFactory private immutable WALLET_FACTORY;

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
        string memory containerId,
        uint32 frequency,
        uint32 period,
        uint16 redundancy,
        bool lazy,
        address paymentToken,
        uint256 paymentAmount,
        address wallet,
        address verifier
    ) external returns (uint32) {
        Subscription memory sub = Subscription({
            owner: msg.sender,
            activeAt: uint32(block.timestamp) + period,
            period: period,
            frequency: frequency,
            redundancy: redundancy,
            containerId: keccak256(abi.encode(containerId)),
            lazy: lazy,
            verifier: payable(verifier),
            paymentAmount: paymentAmount,
            paymentToken: paymentToken,
            wallet: payable(wallet)
        });
        return _store(sub);
    }

    function _store(Subscription memory sub) internal returns (uint32 subscriptionId) {
        unchecked {
            subscriptionId = id++;
        }
        subscriptions[subscriptionId] = sub;
        emit SubscriptionCreated(subscriptionId);
    }

    function cancelSubscription(uint32 subscriptionId) external {
        if (subscriptions[subscriptionId].owner != msg.sender) revert NotSubscriptionOwner();
        subscriptions[subscriptionId].activeAt = CANCELLED;
        emit SubscriptionCancelled(subscriptionId);
    }

    function deliverCompute(
        uint32 subscriptionId,
        uint32 deliveryInterval,
        bytes memory input,
        bytes memory output,
        bytes memory proof,
        address nodeWallet
    ) public nonReentrant {
        _deliver(subscriptionId, deliveryInterval, input, output, proof, nodeWallet);
    }

    /// Checks run in a fixed order: it decides which error a racing node sees.
    function _deliver(
        uint32 subscriptionId,
        uint32 deliveryInterval,
        bytes memory input,
        bytes memory output,
        bytes memory proof,
        address nodeWallet
    ) internal {
        Subscription memory sub = subscriptions[subscriptionId];
        if (sub.owner == address(0)) revert SubscriptionNotFound();
        if (uint32(block.timestamp) < sub.activeAt) revert SubscriptionNotActive();
        uint32 interval = getSubscriptionInterval(sub.activeAt, sub.period);
        if (interval != deliveryInterval) revert IntervalMismatch();
        if (interval > sub.frequency) revert SubscriptionCompleted();

        uint16 count = _countDelivery(subscriptionId, interval, sub.redundancy);

        if (sub.paymentAmount > 0) {
            _pay(sub, subscriptionId, interval, nodeWallet, proof);
        }

        if (sub.lazy) {
            uint256 index = INBOX.writeViaCoordinator(
                sub.containerId, msg.sender, subscriptionId, interval, input, output, proof
            );
            BaseConsumer(sub.owner).rawReceiveCompute(
                subscriptionId, interval, count, msg.sender, "", "", "", sub.containerId, index
            );
        } else {
            BaseConsumer(sub.owner).rawReceiveCompute(
                subscriptionId, interval, count, msg.sender, input, output, proof, bytes32(0), 0
            );
        }
        emit SubscriptionFulfilled(subscriptionId, msg.sender);
    }

    /// Redundancy before the per-node check (so a second delivery on redundancy 1 sees IntervalCompleted).
    function _countDelivery(uint32 subscriptionId, uint32 interval, uint16 redundancy) private returns (uint16) {
        bytes32 key = keccak256(abi.encode(subscriptionId, interval));
        uint16 count = redundancyCount[key];
        if (count == redundancy) revert IntervalCompleted();
        count += 1;
        redundancyCount[key] = count;
        bytes32 nodeKey = keccak256(abi.encode(subscriptionId, interval, msg.sender));
        if (nodeResponded[nodeKey]) revert NodeRespondedAlready();
        nodeResponded[nodeKey] = true;
        return count;
    }

    /// Protocol fee is charged twice on the payment (consumer side and node side) and once on the
    /// verifier fee.
    function _pay(Subscription memory sub, uint32 subscriptionId, uint32 interval, address nodeWallet, bytes memory proof)
        private
    {
        if (!WALLET_FACTORY.isValidWallet(sub.wallet) || !WALLET_FACTORY.isValidWallet(nodeWallet)) {
            revert InvalidWallet();
        }
        Wallet consumer = Wallet(sub.wallet);
        uint256 feeBp = FEES.FEE();
        address recipient = FEES.FEE_RECIPIENT();
        uint256 protocolFee = (sub.paymentAmount * (feeBp * 2)) / FEE_DENOMINATOR;
        consumer.cTransfer(sub.owner, sub.paymentToken, recipient, protocolFee);

        if (sub.verifier == address(0)) {
            consumer.cTransfer(sub.owner, sub.paymentToken, nodeWallet, sub.paymentAmount - protocolFee);
            return;
        }

        IVerifier verifier = IVerifier(sub.verifier);
        if (!verifier.isSupportedToken(sub.paymentToken)) revert UnsupportedVerifierToken();
        uint256 verifierFee = verifier.fee(sub.paymentToken);
        uint256 protocolCut = (verifierFee * feeBp) / FEE_DENOMINATOR;
        consumer.cTransfer(sub.owner, sub.paymentToken, recipient, protocolCut);
        consumer.cTransfer(sub.owner, sub.paymentToken, verifier.getWallet(), verifierFee - protocolCut);

        // The node stakes the full payment; the consumer escrows what the node would be paid.
        Wallet(payable(nodeWallet)).cLock(msg.sender, sub.paymentToken, sub.paymentAmount);
        uint256 escrowed = sub.paymentAmount - protocolFee - verifierFee;
        consumer.cLock(sub.owner, sub.paymentToken, escrowed);

        proofRequests[keccak256(abi.encode(subscriptionId, interval, msg.sender))] =
            ProofRequest({expiry: uint32(block.timestamp) + PROOF_WINDOW, nodeWallet: nodeWallet, consumerEscrowed: escrowed});
        verifier.requestProofVerification(subscriptionId, interval, msg.sender, proof);
    }

    /// Settles a proof request: by the verifier while the window is open, by anyone after it.
    /// Not `nonReentrant`: an atomic verifier calls it from inside a delivery.
    function finalizeProofVerification(uint32 subscriptionId, uint32 interval, address node, bool valid) external {
        bytes32 key = keccak256(abi.encode(subscriptionId, interval, node));
        ProofRequest memory request = proofRequests[key];
        if (request.expiry == 0) revert ProofRequestNotFound();
        Subscription memory sub = subscriptions[subscriptionId];
        bool active = uint32(block.timestamp) < request.expiry;
        if (active && msg.sender != sub.verifier) revert UnauthorizedVerifier();
        delete proofRequests[key];

        Wallet nodeWallet = Wallet(payable(request.nodeWallet));
        Wallet consumer = Wallet(sub.wallet);
        nodeWallet.cUnlock(node, sub.paymentToken, sub.paymentAmount);
        consumer.cUnlock(sub.owner, sub.paymentToken, request.consumerEscrowed);

        if (!active || valid) {
            consumer.cTransfer(sub.owner, sub.paymentToken, request.nodeWallet, request.consumerEscrowed);
        } else {
            // Invalid proof: the node's stake goes to the consumer.
            nodeWallet.cTransfer(node, sub.paymentToken, sub.wallet, sub.paymentAmount);
        }
        emit ProofVerified(subscriptionId, interval, node, active, msg.sender, valid);
    }
}
