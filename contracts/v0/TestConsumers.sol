// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.19;

import {V0CallbackConsumer, V0SubscriptionConsumer} from "./Consumer.sol";

/// Records what v0 consumers receive, for the tests.
abstract contract V0Recorder {
    struct Delivery {
        address node;
        uint16 redundancy;
        bytes input;
        bytes output;
    }

    mapping(uint32 => mapping(uint32 => Delivery[])) internal received;

    function deliveryCount(uint32 subscriptionId, uint32 interval) external view returns (uint256) {
        return received[subscriptionId][interval].length;
    }

    function delivery(uint32 subscriptionId, uint32 interval, uint256 i) external view returns (Delivery memory) {
        return received[subscriptionId][interval][i];
    }
}

contract V0TestCallbackConsumer is V0CallbackConsumer, V0Recorder {
    constructor(address coordinator) V0CallbackConsumer(coordinator) {}

    function request(
        string calldata containerId,
        bytes calldata inputs,
        uint48 maxGasPrice,
        uint32 maxGasLimit,
        uint16 redundancy
    ) external returns (uint32) {
        return _requestCompute(containerId, inputs, maxGasPrice, maxGasLimit, redundancy);
    }

    function _receiveCompute(
        uint32 subscriptionId,
        uint32 interval,
        uint16 redundancy,
        address node,
        bytes calldata input,
        bytes calldata output,
        bytes calldata
    ) internal override {
        received[subscriptionId][interval].push(Delivery(node, redundancy, input, output));
    }
}

contract V0TestSubscriptionConsumer is V0SubscriptionConsumer, V0Recorder {
    constructor(address coordinator) V0SubscriptionConsumer(coordinator) {}

    function create(
        string calldata containerId,
        uint48 maxGasPrice,
        uint32 maxGasLimit,
        uint32 frequency,
        uint32 period,
        uint16 redundancy
    ) external returns (uint32) {
        return _createComputeSubscription(containerId, maxGasPrice, maxGasLimit, frequency, period, redundancy);
    }

    function cancel(uint32 subscriptionId) external {
        _cancelComputeSubscription(subscriptionId);
    }

    /// Each interval's input names it: "interval <n>".
    function getContainerInputs(uint32, uint32 interval, uint32, address) external pure override returns (bytes memory) {
        return abi.encodePacked("interval ", _digits(interval));
    }

    function _receiveCompute(
        uint32 subscriptionId,
        uint32 interval,
        uint16 redundancy,
        address node,
        bytes calldata input,
        bytes calldata output,
        bytes calldata
    ) internal override {
        received[subscriptionId][interval].push(Delivery(node, redundancy, input, output));
    }

    function _digits(uint32 v) private pure returns (bytes memory out) {
        if (v == 0) return "0";
        uint32 n = v;
        uint256 len;
        while (n != 0) {
            len++;
            n /= 10;
        }
        out = new bytes(len);
        while (v != 0) {
            out[--len] = bytes1(uint8(48 + v % 10));
            v /= 10;
        }
    }
}
