// Wide residual networks, WRN-d-k (Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016),
// in the pre-activation form of the attention-transfer code (`resnet` in its `utils.py`):
// stem conv3×3 → three groups of n = (d − 4)/6 blocks (strides 1, 2, 2) → BN-ReLU → 8×8 average
// pool → linear. No conv biases, no dropout.
import Autograd

public struct WideResNet: Architecture {
    public let depth, widenFactor, inChannels, numClasses: Int
    public var initialization: WeightInitialization = .kaiming
    public var blocksPerGroup: Int { (depth - 4) / 6 }
    public var widths: [Int] { [16, 32, 64].map { $0 * widenFactor } }

    public var parameterSpecs: [ParameterSpec] {
        var specs: [ParameterSpec] = []
        let weights: Initializer = initialization == .code2017 ? .normalOverRootFanIn(2) : .kaimingNormal
        func conv(_ name: String, _ cin: Int, _ cout: Int, _ k: Int) {
            specs.append(ParameterSpec(name: name, shape: [cout, cin, k, k], initializer: weights, isBuffer: false))
        }
        func bn(_ name: String, _ c: Int) {
            specs += [ParameterSpec(name: name + ".weight", shape: [c], initializer: .uniform01, isBuffer: false),
                      ParameterSpec(name: name + ".bias", shape: [c], initializer: .zeros, isBuffer: false),
                      ParameterSpec(name: name + ".running_mean", shape: [c], initializer: .zeros, isBuffer: true),
                      ParameterSpec(name: name + ".running_var", shape: [c], initializer: .ones, isBuffer: true)]
        }
        conv("conv0", inChannels, 16, 3)
        var cin = 16
        for (g, width) in widths.enumerated() {
            for b in 0..<blocksPerGroup {
                let base = "group\(g).block\(b)", ni = b == 0 ? cin : width
                conv(base + ".conv0", ni, width, 3)
                conv(base + ".conv1", width, width, 3)
                bn(base + ".bn0", ni)
                bn(base + ".bn1", width)
                if ni != width { conv(base + ".convdim", ni, width, 1) }
            }
            cin = width
        }
        bn("bn", widths[2])
        specs.append(ParameterSpec(name: "fc.weight", shape: [numClasses, widths[2]], initializer: weights, isBuffer: false))
        specs.append(ParameterSpec(name: "fc.bias", shape: [numClasses], initializer: .zeros, isBuffer: false))
        return specs
    }

    public var stemModules: [String] { ["conv0"] }
    public var groupModules: [[String]] { (0..<3).map { ["group\($0)"] } }

    public func forward(_ input: Variable, _ layers: inout Layers) -> ModelOutput {
        var x = layers.conv("conv0", input, padding: 1)
        var groups: [Variable] = []
        for g in 0..<3 {
            for b in 0..<blocksPerGroup {
                x = block(x, "group\(g).block\(b)", stride: b == 0 && g > 0 ? 2 : 1, &layers)
            }
            groups.append(x)   // the raw residual sum, before the next BN-ReLU
        }
        let o = layers.batchNormReLU("bn", x)
        let pooled = avgPool2d(o, kernel: o.shape[2], stride: 1)
        return ModelOutput(logits: layers.linear("fc", pooled.reshaped([o.shape[0], o.shape[1]])), groups: groups)
    }

    /// o1 = relu(bn0(x)); z = conv1(relu(bn1(conv0(o1)))); z + (convdim(o1) or x).
    func block(_ x: Variable, _ base: String, stride: Int, _ layers: inout Layers) -> Variable {
        let o1 = layers.batchNormReLU(base + ".bn0", x)
        let y = layers.conv(base + ".conv0", o1, stride: stride, padding: 1)
        let o2 = layers.batchNormReLU(base + ".bn1", y)
        let z = layers.conv(base + ".conv1", o2, padding: 1)
        if layers.parameters[base + ".convdim"] != nil {
            return z + layers.conv(base + ".convdim", o1, stride: stride, padding: 0)
        }
        return z + x
    }
}
