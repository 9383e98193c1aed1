// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

/// What a proof verifier must expose to be used by subscriptions (`Subscription.verifier`).
interface IVerifier {
    function getWallet() external view returns (address);
    function isSupportedToken(address token) external view returns (bool);
    function fee(address token) external view returns (uint256);
    /// Called by the coordinator during a delivery; must eventually lead to
    /// `Coordinator.finalizeProofVerification` (in the same transaction or later).
    function requestProofVerification(uint32 subscriptionId, uint32 interval, address node, bytes calldata proof)
        external;
    receive() external payable;
}
