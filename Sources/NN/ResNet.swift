// ResNet-18 and ResNet-34 (He et al., 2016) with basic blocks, in torchvision's layout and
// parameter names, so a state dict exported from `torchvision.models.resnet18/34` (see
// `scripts/export-torchvision`) loads unchanged: stem conv7×7/2 (pad 3) → BN-ReLU → max pool
// 3×3/2 (pad 1) → layer1…layer4 (strides 1, 2, 2, 2; widths 64, 128, 256, 512) → global
// average pool → fc. Convolutions have no biases; their names carry torch's `.weight` suffix.
// Paper Table 4 uses these ImageNet-pretrained nets; AT matches the four group outputs.
import Autograd

public struct ResNet: Architecture {
    public let depth, inChannels, numClasses: Int
    public static let widths = [64, 128, 256, 512]

    /// The depths with basic blocks: 18 → [2, 2, 2, 2], 34 → [3, 4, 6, 3].
    public static let blockCounts: [Int: [Int]] = [18: [2, 2, 2, 2], 34: [3, 4, 6, 3]]
    public var blocks: [Int] { Self.blockCounts[depth]! }

    public init(depth: Int, inChannels: Int, numClasses: Int) {
        precondition(Self.blockCounts[depth] != nil, "ResNet: depth \(depth) is not 18 or 34")
        self.depth = depth; self.inChannels = inChannels; self.numClasses = numClasses
    }

    /// In torchvision's state-dict order. Fresh weights follow torchvision's init: convs Kaiming
    /// normal with fan_out (std √(2 / (C_out·k·k))), BN weight 1 and bias 0, fc as nn.Linear's
    /// default (weight and bias uniform in ±1/√fan_in).
    public var parameterSpecs: [ParameterSpec] {
        var specs: [ParameterSpec] = []
        func conv(_ module: String, _ cin: Int, _ cout: Int, _ k: Int) {
            specs.append(ParameterSpec(name: module + ".weight", shape: [cout, cin, k, k], initializer: .kaimingNormalFanOut, isBuffer: false))
        }
        func bn(_ module: String, _ c: Int) {
            specs += [ParameterSpec(name: module + ".weight", shape: [c], initializer: .ones, isBuffer: false),
                      ParameterSpec(name: module + ".bias", shape: [c], initializer: .zeros, isBuffer: false),
                      ParameterSpec(name: module + ".running_mean", shape: [c], initializer: .zeros, isBuffer: true),
                      ParameterSpec(name: module + ".running_var", shape: [c], initializer: .ones, isBuffer: true)]
        }
        conv("conv1", inChannels, 64, 7)
        bn("bn1", 64)
        var cin = 64
        for (g, width) in Self.widths.enumerated() {
            for b in 0..<blocks[g] {
                let base = "layer\(g + 1).\(b)", stride = b == 0 && g > 0 ? 2 : 1
                conv(base + ".conv1", cin, width, 3)
                bn(base + ".bn1", width)
                conv(base + ".conv2", width, width, 3)
                bn(base + ".bn2", width)
                if stride != 1 || cin != width {
                    conv(base + ".downsample.0", cin, width, 1)
                    bn(base + ".downsample.1", width)
                }
                cin = width
            }
        }
        let bound = 1 / Float(cin).squareRoot()
        specs.append(ParameterSpec(name: "fc.weight", shape: [numClasses, cin], initializer: .uniform(low: -bound, high: bound), isBuffer: false))
        specs.append(ParameterSpec(name: "fc.bias", shape: [numClasses], initializer: .uniform(low: -bound, high: bound), isBuffer: false))
        return specs
    }

    public var stemModules: [String] { ["conv1", "bn1"] }
    public var groupModules: [[String]] { (1...4).map { ["layer\($0)"] } }

    public func forward(_ input: Variable, _ layers: inout Layers) -> ModelOutput {
        precondition(input.shape[2] >= 32 && input.shape[3] >= 32, "resnet-\(depth): input must be at least 32×32, got \(input.shape)")
        var x = layers.conv(module: "conv1", input, stride: 2, padding: 3)
        x = maxPool2d(layers.batchNormReLU("bn1", x), kernel: 3, stride: 2, padding: 1)
        var groups: [Variable] = []
        for g in 0..<4 {
            for b in 0..<blocks[g] {
                x = block(x, "layer\(g + 1).\(b)", stride: b == 0 && g > 0 ? 2 : 1, &layers)
            }
            groups.append(x)   // the group's output, after its last block's ReLU
        }
        return ModelOutput(logits: layers.linear("fc", globalAvgPool(x)), groups: groups)
    }

    /// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut), the shortcut being x or
    /// downsample.1(downsample.0(x)) (a strided 1×1 conv and BN).
    func block(_ x: Variable, _ base: String, stride: Int, _ layers: inout Layers) -> Variable {
        let y = layers.batchNormReLU(base + ".bn1", layers.conv(module: base + ".conv1", x, stride: stride, padding: 1))
        let z = layers.batchNorm(base + ".bn2", layers.conv(module: base + ".conv2", y, padding: 1))
        let shortcut = layers.parameters[base + ".downsample.0.weight"] == nil ? x
            : layers.batchNorm(base + ".downsample.1", layers.conv(module: base + ".downsample.0", x, stride: stride, padding: 0))
        return (z + shortcut).relu()
    }
}
