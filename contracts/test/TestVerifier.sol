// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {IVerifier} from "../src/payments/IVerifier.sol";

interface IProofCoordinator {
    function finalizeProofVerification(uint32 subscriptionId, uint32 interval, address node, bool valid) external;
}

/// Test verifier. Atomic: settles inside the delivery (valid when the proof equals `validProof`).
/// Optimistic: records the request; the test settles it later with `settle`.
contract TestVerifier is IVerifier {
    address public immutable coordinator;
    bool public immutable atomic;
    uint256 public feeAmount;
    bytes public validProof;
    mapping(address => bool) public supported;
    uint256 public requests;
    bytes public lastProof;

    event ProofRequested(uint32 subscriptionId, uint32 interval, address node, bytes proof);

    constructor(address coordinator_, bool atomic_, uint256 fee_, bytes memory validProof_) {
        coordinator = coordinator_;
        atomic = atomic_;
        feeAmount = fee_;
        validProof = validProof_;
        supported[address(0)] = true;
    }

    function setSupported(address token, bool ok) external {
        supported[token] = ok;
    }

    function getWallet() external view returns (address) {
        return address(this);
    }

    function isSupportedToken(address token) external view returns (bool) {
        return supported[token];
    }

    function fee(address) external view returns (uint256) {
        return feeAmount;
    }

    function requestProofVerification(uint32 subscriptionId, uint32 interval, address node, bytes calldata proof)
        external
    {
        requests += 1;
        lastProof = proof;
        emit ProofRequested(subscriptionId, interval, node, proof);
        if (atomic) {
            IProofCoordinator(coordinator).finalizeProofVerification(
                subscriptionId, interval, node, keccak256(proof) == keccak256(validProof)
            );
        }
    }

    /// Optimistic settlement (the verifier's verdict, within the proof window).
    function settle(uint32 subscriptionId, uint32 interval, address node, bool valid) external {
        IProofCoordinator(coordinator).finalizeProofVerification(subscriptionId, interval, node, valid);
    }

    receive() external payable {}
}
