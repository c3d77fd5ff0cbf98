// Network-in-network (Lin et al., 2014) in the BN form used by the WRN authors: three blocks of
// [k×k conv, 1×1 conv, 1×1 conv], each conv followed by BN-ReLU (or, without BN, a bias and
// ReLU), with a 3×3/2 max pool after block 0, a 3×3/2 average pool (padding excluded from the
// count) after block 1, and a global average pool after block 2; then a linear classifier.
// The paper's Table 3 networks (`-nopoolrelu`) have no ReLU after a block's last convolution,
// the one before each pooling layer (the global one too); their attention maps are read from
// that convolution's output.
// docs/protocol.md §5: NIN-wide widths are the original's; NIN-thin widths are our assumption.
import Autograd

public struct NetworkInNetwork: Architecture {
    /// Output channels of the nine convolutions, block by block.
    public static let wide = [192, 160, 96, 192, 192, 192, 192, 192, 192]
    public static let thin = [86, 72, 43, 86, 86, 86, 86, 86, 86]
    static let kernels = [5, 1, 1, 5, 1, 1, 3, 1, 1]

    public let widths: [Int]
    public let batchNorm: Bool
    /// Whether a block's last convolution is followed by a ReLU before the block's pool (the
    /// original's); Table 3's networks have none there.
    public let reluBeforePooling: Bool
    public let inChannels, numClasses: Int

    public init(widths: [Int], batchNorm: Bool, reluBeforePooling: Bool = true, inChannels: Int, numClasses: Int) {
        self.widths = widths; self.batchNorm = batchNorm; self.reluBeforePooling = reluBeforePooling
        self.inChannels = inChannels; self.numClasses = numClasses
    }

    public var parameterSpecs: [ParameterSpec] {
        var specs: [ParameterSpec] = []
        var cin = inChannels
        for i in 0..<9 {
            let base = "block\(i / 3)", cout = widths[i], k = Self.kernels[i]
            specs.append(ParameterSpec(name: "\(base).conv\(i % 3)", shape: [cout, cin, k, k], initializer: .kaimingNormal, isBuffer: false))
            if batchNorm {
                let bn = "\(base).bn\(i % 3)"
                specs += [ParameterSpec(name: bn + ".weight", shape: [cout], initializer: .uniform01, isBuffer: false),
                          ParameterSpec(name: bn + ".bias", shape: [cout], initializer: .zeros, isBuffer: false),
                          ParameterSpec(name: bn + ".running_mean", shape: [cout], initializer: .zeros, isBuffer: true),
                          ParameterSpec(name: bn + ".running_var", shape: [cout], initializer: .ones, isBuffer: true)]
            } else {
                specs.append(ParameterSpec(name: "\(base).conv\(i % 3).bias", shape: [cout], initializer: .zeros, isBuffer: false))
            }
            cin = cout
        }
        specs.append(ParameterSpec(name: "fc.weight", shape: [numClasses, widths[8]], initializer: .kaimingNormal, isBuffer: false))
        specs.append(ParameterSpec(name: "fc.bias", shape: [numClasses], initializer: .zeros, isBuffer: false))
        return specs
    }

    /// No stem: the first block is the first group.
    public var stemModules: [String] { [] }
    public var groupModules: [[String]] { (0..<3).map { ["block\($0)"] } }

    public func forward(_ input: Variable, _ layers: inout Layers) -> ModelOutput {
        var x = input
        var groups: [Variable] = []
        for b in 0..<3 {
            for j in 0..<3 {
                let k = Self.kernels[b * 3 + j]
                x = layers.conv("block\(b).conv\(j)", x, padding: k / 2)
                // Without the ReLU, AT reads the block's last convolution's own output (before its BN):
                // the paper's "AT losses on outputs of convolutional layers".
                if j == 2 && !reluBeforePooling { groups.append(x) }
                let relu = j < 2 || reluBeforePooling
                switch (batchNorm, relu) {
                case (true, true): x = layers.batchNormReLU("block\(b).bn\(j)", x)
                case (true, false): x = layers.batchNorm("block\(b).bn\(j)", x)
                case (false, true): x = x.relu()
                case (false, false): break
                }
            }
            if reluBeforePooling { groups.append(x) }   // after the block's last ReLU, before its pool
            switch b {
            case 0: x = maxPool2d(x, kernel: 3, stride: 2, padding: 1)
            case 1: x = avgPool2d(x, kernel: 3, stride: 2, padding: 1)
            default: x = globalAvgPool(x)
            }
        }
        return ModelOutput(logits: layers.linear("fc", x), groups: groups)
    }
}
