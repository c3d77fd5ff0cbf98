// The counter-based generator of reference/weights.py (algorithm in reference/README.md): the
// committed fixtures do not store weights, so the tests compute the same float32 bits here.
import Tensor

enum FixtureWeights {
    /// How a tensor's uniform draws u ∈ [0, 1) (s = 2u − 1) become values, computed in Double
    /// and rounded once to Float.
    enum Kind: String {
        case conv, fcWeight, bnWeight, bnBias, runningMean, runningVar, convBias, fcBias, input

        /// The kind of a model tensor from its official name.
        init(tensorName name: String) {
            if name.hasSuffix(".running_mean") { self = .runningMean }
            else if name.hasSuffix(".running_var") { self = .runningVar }
            else if name == "fc.weight" { self = .fcWeight }
            else if name == "fc.bias" { self = .fcBias }
            else if name.hasSuffix(".weight") {
                // torchvision's names (ResNet): `….conv1.weight`, `….downsample.0.weight` are convolutions.
                let owner = name.dropLast(".weight".count).split(separator: ".").last ?? ""
                self = owner.hasPrefix("conv") || name.hasSuffix("downsample.0.weight") ? .conv : .bnWeight
            }
            else if name.hasSuffix(".bias") {
                let owner = name.dropLast(".bias".count).split(separator: ".").last ?? ""
                self = owner.hasPrefix("conv") ? .convBias : .bnBias
            } else { self = .conv }
        }
    }

    static func fnv1a64(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return h
    }

    /// splitmix64 outputs for counters 1…count of the tensor `key` under `seed`.
    static func bits(seed: String, key: String, count: Int) -> [UInt64] {
        let base = fnv1a64("atx-fixture/\(seed)/\(key)")
        return (0..<count).map { i in
            var z = base &+ UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func values(seed: String, key: String, kind: Kind, shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        let fanIn = Double(shape.dropFirst().reduce(1, *))
        let data = bits(seed: seed, key: key, count: count).map { z -> Float in
            let u = Double(z >> 11) * 0x1p-53, s = 2 * u - 1
            let v: Double
            switch kind {
            case .conv, .fcWeight: v = s * (6 / fanIn).squareRoot()
            case .bnWeight, .runningVar: v = 0.5 + u
            case .bnBias, .runningMean: v = 0.2 * s
            case .convBias, .fcBias: v = 0.1 * s
            case .input: v = Double(3).squareRoot() * s
            }
            return Float(v)
        }
        return Tensor(shape: shape, data: data)
    }

    static func labels(seed: String, count: Int, classes: Int) -> [Int] {
        bits(seed: seed, key: "labels", count: count).map { Int(($0 >> 32) % UInt64(classes)) }
    }
}
