"""Counter-based values for fixture weights and inputs, so the fixtures need not store them.

Every value is a pure function of (fixture seed, tensor key, element index); the Swift tests
compute the same bits (Tests/TrainingTests/FixtureWeights.swift). README.md in this folder
states the algorithm; keep the two implementations in step with it.

    key   = FNV-1a 64 of the UTF-8 text "atx-fixture/<seed>/<tensor key>"
    z_i   = splitmix64 output for counter i: mix(key + (i + 1) * 0x9E3779B97F4A7C15 mod 2^64)
    u_i   = (z_i >> 11) * 2^-53                       uniform in [0, 1), exact in float64
    s_i   = 2 * u_i - 1                               uniform in [-1, 1), exact in float64

and each kind of tensor maps u or s to a value in float64, rounded once to float32.
"""

import numpy as np

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def fnv1a64(text):
    h = FNV_OFFSET
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * FNV_PRIME) & MASK
    return h


def tensor_key(seed, key):
    return fnv1a64(f"atx-fixture/{seed}/{key}")


def raw_bits(seed, key, count):
    """The count splitmix64 outputs of the tensor as uint64 (numpy wraps modulo 2^64)."""
    with np.errstate(over="ignore"):
        z = np.uint64(tensor_key(seed, key)) + (np.arange(1, count + 1, dtype=np.uint64) * np.uint64(GAMMA))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform01(seed, key, count):
    return (raw_bits(seed, key, count) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def values(seed, key, kind, shape):
    """float32 array of the given shape for one tensor kind (see README.md for the table)."""
    count = int(np.prod(shape, dtype=np.int64))
    u = uniform01(seed, key, count)
    s = 2.0 * u - 1.0
    fan_in = int(np.prod(shape[1:], dtype=np.int64))
    if kind in ("conv", "fc_weight"):
        # uniform with the Kaiming-normal standard deviation sqrt(2 / fan_in)
        v = s * np.sqrt(6.0 / fan_in)
    elif kind == "bn_weight":
        v = 0.5 + u
    elif kind in ("bn_bias", "running_mean"):
        v = 0.2 * s
    elif kind == "running_var":
        v = 0.5 + u
    elif kind in ("conv_bias", "fc_bias"):
        v = 0.1 * s
    elif kind == "input":
        v = np.sqrt(3.0) * s  # unit variance
    else:
        raise ValueError(f"unknown kind {kind}")
    return v.astype(np.float32).reshape(shape)


def labels(seed, count, num_classes):
    return ((raw_bits(seed, "labels", count) >> np.uint64(32)) % np.uint64(num_classes)).astype(np.int64)
