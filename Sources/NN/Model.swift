// A model is an architecture (how the forward runs, which parameters it has) plus the tensors
// of its parameters and buffers, named as in the official code so checkpoints map one to one.
import Autograd
import Tensor

public enum Mode: String, Sendable, Codable { case train, eval }

/// How a parameter is initialised (official attention-transfer code, `utils.py`).
public enum Initializer: Sendable {
    /// Kaiming normal, fan_in, gain √2: std = √(2 / fan_in), fan_in = product of dims after the first.
    case kaimingNormal
    /// Normal with std = `numerator` / √fan_in (the official code of January 2017 draws conv and
    /// linear weights with std 2/√fan_in: a28b02e `utils.py:14–21`).
    case normalOverRootFanIn(Float)
    /// Kaiming normal, fan_out, gain √2 (torchvision's ResNet convs): std = √(2 / fan_out),
    /// fan_out = first dim × product of dims after the second.
    case kaimingNormalFanOut
    /// U(low, high) (torch's nn.Linear default has low = −high = −1/√fan_in).
    case uniform(low: Float, high: Float)
    /// U(0, 1) (batch-norm weights in the official code).
    case uniform01
    case zeros
    case ones
}

/// How a WRN's convolution and linear weights are drawn (docs/protocol.md §5).
public enum WeightInitialization: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// std = 2/√fan_in: the official code of January 2017 (a28b02e `utils.py:14–21`,
    /// `normal_(0, 2/math.sqrt(ni*k*k))`), which produced the paper's numbers.
    case code2017 = "2017"
    /// std = √(2/fan_in), Kaiming's: the official code from 79fd943 (June 2017) on, and atx's runs
    /// before the January 2017 form was named.
    case kaiming

    public var description: String { rawValue }
}

public struct ParameterSpec: Sendable {
    public let name: String
    public let shape: [Int]
    public let initializer: Initializer
    /// Buffers (BN running statistics) are state, not learnable parameters.
    public let isBuffer: Bool
}

/// What a forward gives the methods: logits and the group outputs that attention transfer
/// matches (three for WRN and NIN, four for ResNet).
public struct ModelOutput {
    public let logits: Variable
    public let groups: [Variable]
}

/// A network family: its parameters and its forward.
public protocol Architecture: Sendable {
    var parameterSpecs: [ParameterSpec] { get }
    func forward(_ x: Variable, _ layers: inout Layers) -> ModelOutput
    /// Modules (parameter-name prefixes up to a dot) before the first group, for freezing.
    var stemModules: [String] { get }
    /// The modules of each group whose output `forward` returns, for freezing.
    var groupModules: [[String]] { get }
    /// The classifier's parameters: what a checkpoint with another class count cannot fill.
    var headParameterNames: [String] { get }
}

extension Architecture {
    public var headParameterNames: [String] { ["fc.weight", "fc.bias"] }
}

/// Whether parameter or buffer `name` belongs to `module`: it is the module or lies under it
/// (`layer1` holds `layer1.0.conv1.weight`, not `layer10.…`).
func belongs(_ name: String, to module: String) -> Bool {
    name == module || name.hasPrefix(module + ".")
}

/// The layers of one forward call: looks up parameters by name, updates BN buffers in training.
public struct Layers {
    public let parameters: [String: Variable]
    public var buffers: [String: Tensor]
    public let mode: Mode
    /// BN modules that use their running statistics in either mode and never update them.
    public var frozenBatchNorms: Set<String> = []

    func parameter(_ name: String) -> Variable {
        guard let p = parameters[name] else { preconditionFailure("model: no parameter named '\(name)'") }
        return p
    }

    /// Convolution by the parameter `name` (no `.weight` suffix, as the official code), with
    /// `name.bias` added when the model has it.
    public func conv(_ name: String, _ x: Variable, stride: Int = 1, padding: Int) -> Variable {
        let y = conv2d(x, parameter(name), stride: stride, padding: padding)
        guard let b = parameters[name + ".bias"] else { return y }
        return addChannelBias(y, b)
    }

    /// Convolution of a torch `nn.Conv2d` module: weight `module.weight`, plus `module.bias`
    /// when the model has it (torchvision's naming; `conv` is the official WRN code's).
    public func conv(module: String, _ x: Variable, stride: Int = 1, padding: Int) -> Variable {
        let y = conv2d(x, parameter(module + ".weight"), stride: stride, padding: padding)
        guard let b = parameters[module + ".bias"] else { return y }
        return addChannelBias(y, b)
    }

    public mutating func batchNorm(_ name: String, _ x: Variable) -> Variable {
        batchNorm(name, x, relu: false)
    }

    /// batchNorm(name, x).relu() as one fused op (the same values and gradients).
    public mutating func batchNormReLU(_ name: String, _ x: Variable) -> Variable {
        batchNorm(name, x, relu: true)
    }

    mutating func batchNorm(_ name: String, _ x: Variable, relu: Bool) -> Variable {
        guard var mean = buffers[name + ".running_mean"], var variance = buffers[name + ".running_var"] else {
            preconditionFailure("model: no running statistics for '\(name)'")
        }
        let training = mode == .train && !frozenBatchNorms.contains(name)
        let (gamma, beta) = (parameter(name + ".weight"), parameter(name + ".bias"))
        let y = relu ? Autograd.batchNormReLU(x, gamma: gamma, beta: beta, runningMean: &mean, runningVar: &variance, training: training)
                     : Autograd.batchNorm(x, gamma: gamma, beta: beta, runningMean: &mean, runningVar: &variance, training: training)
        if training {
            buffers[name + ".running_mean"] = mean
            buffers[name + ".running_var"] = variance
        }
        return y
    }

    public func linear(_ name: String, _ x: Variable) -> Variable {
        Autograd.linear(x, weight: parameter(name + ".weight"), bias: parameters[name + ".bias"])
    }
}

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case unknownModel(String)
    case badDepth(name: String, depth: Int)
    case badChannels(Int)
    case badFreezing(model: String, reason: String)

    public static let accepted = "wrn-D-K (depth D = 6n+4, widen factor K ≥ 1, e.g. wrn-16-1, wrn-40-2), nin-wide, nin-wide-nobn, nin-thin, "
        + "nin-thin-nobn, nin-thin-nobn-nopoolrelu, nin-wide-nopoolrelu (Table 3's, without ReLU before pooling), resnet-18, resnet-34"

    public var description: String {
        switch self {
        case .unknownModel(let n): return "unknown model '\(n)'; accepted: \(Self.accepted)"
        case .badDepth(let n, let d): return "model '\(n)': depth \(d) is not 6n+4 (accepted depths: 10, 16, 22, 28, 34, 40, …)"
        case .badChannels(let c): return "input channels must be 1 or 3, got \(c)"
        case .badFreezing(let m, let r): return "model '\(m)': cannot freeze: \(r)"
        }
    }
}

/// A network with its parameters and buffers.
public final class Model {
    /// The name users type: `wrn-16-1`, `nin-thin-nobn`, ….
    public let name: String
    public let architecture: any Architecture
    public let inChannels: Int
    public let numClasses: Int
    /// Learnable parameters in a fixed order (the official code's names).
    public let parameterNames: [String]
    public var parameters: [String: Tensor]
    /// BN running statistics.
    public var buffers: [String: Tensor]
    /// What stays fixed in training (`freeze(_:)`); nothing by default.
    public private(set) var freezing = Freezing()
    /// Learnable parameters that `freezing` fixes: leaves without gradient, never updated.
    public private(set) var frozenParameterNames: Set<String> = []
    /// BN modules that `freezing` fixes: running statistics in train mode too, never updated.
    public private(set) var frozenBatchNorms: Set<String> = []
    /// The weights file this model was initialised from (`init(name:pretrained:…)`), if any.
    public internal(set) var pretrained: PretrainedLoad?

    /// Builds a model from its name and initialises it from `rng` (a WRN's conv and linear
    /// weights as `initialization` says).
    public init(name: String, inChannels: Int = 3, numClasses: Int = 10, initialization: WeightInitialization = .kaiming,
                rng: inout RNG) throws {
        guard inChannels == 1 || inChannels == 3 else { throw ModelError.badChannels(inChannels) }
        self.name = name
        self.inChannels = inChannels
        self.numClasses = numClasses
        architecture = try Model.architecture(named: name, inChannels: inChannels, numClasses: numClasses, initialization: initialization)
        var params: [String: Tensor] = [:], buffers: [String: Tensor] = [:], names: [String] = []
        for spec in architecture.parameterSpecs {
            let t: Tensor
            switch spec.initializer {
            case .kaimingNormal:
                let fanIn = spec.shape.dropFirst().reduce(1, *)
                t = Tensor.normal(spec.shape, std: (2 / Float(fanIn)).squareRoot(), rng: &rng)
            case .normalOverRootFanIn(let numerator):
                let fanIn = spec.shape.dropFirst().reduce(1, *)
                t = Tensor.normal(spec.shape, std: numerator / Float(fanIn).squareRoot(), rng: &rng)
            case .kaimingNormalFanOut:
                let fanOut = spec.shape[0] * spec.shape.dropFirst(2).reduce(1, *)
                t = Tensor.normal(spec.shape, std: (2 / Float(fanOut)).squareRoot(), rng: &rng)
            case .uniform(let low, let high): t = Tensor.uniform(spec.shape, low: low, high: high, rng: &rng)
            case .uniform01: t = Tensor.uniform(spec.shape, rng: &rng)
            case .zeros: t = Tensor(zeros: spec.shape)
            case .ones: t = Tensor(repeating: 1, shape: spec.shape)
            }
            if spec.isBuffer { buffers[spec.name] = t } else { params[spec.name] = t; names.append(spec.name) }
        }
        parameters = params
        self.buffers = buffers
        parameterNames = names
    }

    /// Whether `initialization` changes how model `name` is initialised: only the WRNs, the one
    /// family the official code of January 2017 defines.
    public static func takesInitialization(_ name: String) -> Bool { name.lowercased().hasPrefix("wrn-") }

    static func architecture(named name: String, inChannels: Int, numClasses: Int,
                             initialization: WeightInitialization = .kaiming) throws -> any Architecture {
        let parts = name.lowercased().split(separator: "-").map(String.init)
        if parts.count == 3, parts[0] == "wrn", let depth = Int(parts[1]), let k = Int(parts[2]), k >= 1 {
            guard depth >= 10, (depth - 4) % 6 == 0 else { throw ModelError.badDepth(name: name, depth: depth) }
            return WideResNet(depth: depth, widenFactor: k, inChannels: inChannels, numClasses: numClasses, initialization: initialization)
        }
        switch name.lowercased() {
        case "resnet-18": return ResNet(depth: 18, inChannels: inChannels, numClasses: numClasses)
        case "resnet-34": return ResNet(depth: 34, inChannels: inChannels, numClasses: numClasses)
        case "nin-wide": return NetworkInNetwork(widths: NetworkInNetwork.wide, batchNorm: true, inChannels: inChannels, numClasses: numClasses)
        case "nin-wide-nobn": return NetworkInNetwork(widths: NetworkInNetwork.wide, batchNorm: false, inChannels: inChannels, numClasses: numClasses)
        case "nin-thin": return NetworkInNetwork(widths: NetworkInNetwork.thin, batchNorm: true, inChannels: inChannels, numClasses: numClasses)
        case "nin-thin-nobn": return NetworkInNetwork(widths: NetworkInNetwork.thin, batchNorm: false, inChannels: inChannels, numClasses: numClasses)
        // Table 3's networks: no ReLU before the pooling layers (the paper, end of §4.1.3).
        case "nin-thin-nobn-nopoolrelu":
            return NetworkInNetwork(widths: NetworkInNetwork.thin, batchNorm: false, reluBeforePooling: false, inChannels: inChannels, numClasses: numClasses)
        case "nin-wide-nopoolrelu":
            return NetworkInNetwork(widths: NetworkInNetwork.wide, batchNorm: true, reluBeforePooling: false, inChannels: inChannels, numClasses: numClasses)
        default: throw ModelError.unknownModel(name)
        }
    }

    /// The paper's spelling of a model name: "wrn-16-1" → "WRN-16-1", "nin-thin-nobn" → "NIN-thin",
    /// "resnet-18" → "ResNet-18"; a name `init(name:)` does not know stays as it is.
    public static func displayName(_ name: String) -> String {
        let parts = name.lowercased().split(separator: "-").map(String.init)
        switch parts.first {
        case "wrn": return "WRN-" + parts.dropFirst().joined(separator: "-")
        case "nin": return parts.count >= 2 ? "NIN-" + parts[1] : name
        case "resnet": return "ResNet-" + parts.dropFirst().joined(separator: "-")
        default: return name
        }
    }

    /// Throws the error `init(name:)` would give for an unknown name or a bad depth.
    public static func validate(name: String) throws {
        _ = try architecture(named: name, inChannels: 3, numClasses: 10)
    }

    /// Number of learnable parameters (BN running statistics excluded).
    public var parameterCount: Int { parameterNames.reduce(0) { $0 + parameters[$1]!.count } }

    /// Learnable parameters outside `frozenParameterNames`, in `parameterNames` order: what SGD updates.
    public var trainableParameterNames: [String] { parameterNames.filter { !frozenParameterNames.contains($0) } }

    /// Fixes what `freezing` names from now on (replacing any earlier freezing); a group index
    /// the architecture does not have is an error.
    public func freeze(_ freezing: Freezing) throws {
        let groups = architecture.groupModules
        if let bad = freezing.groups.first(where: { !groups.indices.contains($0) }) {
            throw ModelError.badFreezing(model: name, reason: "no group \(bad) (groups are 0…\(groups.count - 1))")
        }
        if freezing.stem && architecture.stemModules.isEmpty {
            throw ModelError.badFreezing(model: name, reason: "the architecture has no stem before its first group")
        }
        let modules = (freezing.stem ? architecture.stemModules : []) + freezing.groups.flatMap { groups[$0] }
        let batchNorms = Set(buffers.keys.filter { $0.hasSuffix(".running_mean") }.map { String($0.dropLast(".running_mean".count)) })
        let frozenBN = batchNorms.filter { bn in freezing.batchNorm || modules.contains { belongs(bn, to: $0) } }
        frozenBatchNorms = frozenBN
        frozenParameterNames = Set(parameterNames.filter { p in
            modules.contains { belongs(p, to: $0) } || frozenBN.contains { p == $0 + ".weight" || p == $0 + ".bias" }
        })
        self.freezing = freezing
    }

    /// Runs the network. In `.train` mode BN uses batch statistics and updates the running ones
    /// (except frozen BN layers, which use and keep their running statistics).
    /// With `requiresGrad` the returned `parameters` are leaves to take gradients against;
    /// for a frozen network (the teacher) pass false and call inside `GradMode.withoutGraph`.
    public func forward(_ input: Variable, mode: Mode, requiresGrad: Bool = true) -> (output: ModelOutput, parameters: [Variable]) {
        let leaves = parameterNames.map { Variable(parameters[$0]!, requiresGrad: requiresGrad && !frozenParameterNames.contains($0), name: $0) }
        var layers = self.layers(parameters: leaves, mode: mode)
        let output = forward(input, &layers)
        commit(layers, mode: mode)
        return (output, leaves)
    }

    /// A second forward through the same parameter leaves (the symmetry norm runs the network
    /// on the flipped batch with the parameters of the first forward).
    public func forward(_ input: Variable, _ layers: inout Layers) -> ModelOutput {
        precondition(input.shape.count == 4 && input.shape[1] == inChannels,
                     "\(name): input must be [N, \(inChannels), H, W], got \(input.shape)")
        return architecture.forward(input, &layers)
    }

    /// The layers of a forward over the given parameter leaves (in `parameterNames` order).
    public func layers(parameters leaves: [Variable], mode: Mode) -> Layers {
        precondition(leaves.count == parameterNames.count, "\(name): \(leaves.count) parameter leaves for \(parameterNames.count) parameters")
        return Layers(parameters: Dictionary(uniqueKeysWithValues: zip(parameterNames, leaves)), buffers: buffers, mode: mode,
                      frozenBatchNorms: frozenBatchNorms)
    }

    /// Keeps the BN running statistics a training-mode forward computed.
    public func commit(_ layers: Layers, mode: Mode) {
        if mode == .train { buffers = layers.buffers }
    }
}
