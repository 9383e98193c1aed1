// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

// A consumer written the way Ritual's Infernet SDK documentation shows one: the SDK's import paths
// (an SDK user maps `infernet-sdk/` to the SDK's `src/`; build.mjs maps it to ours) and the
// documented `_receiveCompute` override with `bytes calldata` payloads. It has to compile against
// our bases unchanged (build.mjs stops on any compile error); tests/contracts.rs delivers to it.
import {CallbackConsumer} from "infernet-sdk/consumer/Callback.sol";

contract DocCallbackConsumer is CallbackConsumer {
    struct Response {
        address node;
        bytes input;
        bytes output;
        bytes proof;
        bytes32 containerId;
        uint256 index;
    }

    /// subscription id => interval => redundancy => what that delivery carried
    mapping(uint32 => mapping(uint32 => mapping(uint16 => Response))) public responses;

    constructor(address registry) CallbackConsumer(registry) {}

    function requestCompute(string calldata containerId, bytes calldata inputs) external returns (uint32) {
        return _requestCompute(containerId, inputs, 1, address(0), 0, address(0), address(0));
    }

    /// A request paid from `wallet` (this contract must be an approved spender there), optionally
    /// proof-gated by `verifier`.
    function requestPaidCompute(
        string calldata containerId,
        bytes calldata inputs,
        address paymentToken,
        uint256 paymentAmount,
        address wallet,
        address verifier
    ) external returns (uint32) {
        return _requestCompute(containerId, inputs, 1, paymentToken, paymentAmount, wallet, verifier);
    }

    function _receiveCompute(
        uint32 subscriptionId,
        uint32 interval,
        uint16 redundancy,
        address node,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof,
        bytes32 containerId,
        uint256 index
    ) internal override {
        responses[subscriptionId][interval][redundancy] = Response(node, input, output, proof, containerId, index);
    }
}
