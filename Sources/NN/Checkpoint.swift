// Model checkpoints as safetensors with the official parameter names (no prefix), so a
// PyTorch user can `safetensors.torch.load_file` a trained atx model and the reverse.
import Foundation
import Tensor

public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case missingMetadata(file: String, key: String)
    case unexpectedTensors(file: String, names: [String])

    public var description: String {
        switch self {
        case .missingMetadata(let f, let k):
            return "\(f): checkpoint metadata has no '\(k)': not an atx model (a run's model.safetensors) or run state (its checkpoint.safetensors)"
        case .unexpectedTensors(let f, let n): return "\(f): tensors the model does not have: \(n.joined(separator: ", "))"
        }
    }
}

extension Model {
    /// All tensors of the model: learnable parameters and BN running statistics.
    public var stateTensors: [String: Tensor] { parameters.merging(buffers) { a, _ in a } }

    /// The metadata that lets `Model(checkpoint:)` rebuild the network.
    public var checkpointMetadata: [String: String] {
        ["model": name, "in_channels": String(inChannels), "num_classes": String(numClasses), "format": "atx-model-1"]
    }

    /// Writes the model atomically (temporary file + rename).
    public func save(to url: URL, extraTensors: [String: Tensor] = [:], metadata: [String: String] = [:]) throws {
        try SafeTensors.write(tensors: stateTensors.merging(extraTensors) { a, _ in a },
                              metadata: checkpointMetadata.merging(metadata) { a, _ in a }, to: url)
    }

    /// Replaces every parameter and buffer with the tensors of `file` under `prefix`; a missing
    /// or misshapen tensor is an error naming the file and the tensor.
    public func load(from file: SafeTensorsFile, prefix: String = "", allowExtra: Bool = true) throws {
        var params = parameters, bufs = buffers
        for name in parameterNames { params[name] = try file.tensor(named: prefix + name, expectedShape: parameters[name]!.shape) }
        for name in buffers.keys { bufs[name] = try file.tensor(named: prefix + name, expectedShape: buffers[name]!.shape) }
        if !allowExtra {
            let known = Set(parameterNames.map { prefix + $0 } + buffers.keys.map { prefix + $0 })
            let extra = file.names.filter { $0.hasPrefix(prefix) && !known.contains($0) }
            if !extra.isEmpty { throw CheckpointError.unexpectedTensors(file: file.url.path, names: extra) }
        }
        parameters = params
        buffers = bufs
    }

    /// Rebuilds a model from a checkpoint written by `save(to:)` (a run's `model.safetensors`), or
    /// the student of a run's resumable training state (`checkpoint.safetensors`, format
    /// "atx-run-1": its tensors under "student.", its network named in the run's configuration).
    public convenience init(checkpoint url: URL) throws {
        let file = try SafeTensorsFile(contentsOf: url)
        var rng = RNG(seed: 0)
        if file.metadata["format"] == "atx-run-1" {
            let config = file.metadata["config"].flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
            guard let name = config?["student"] as? String else { throw CheckpointError.missingMetadata(file: url.path, key: "config.student") }
            // Input channels and classes from the tensors: the first parameter's and the head's shapes.
            let probe = try Model(name: name, rng: &rng)
            let first = try file.tensor(named: "student." + probe.parameterNames[0]).shape
            let head = try file.tensor(named: "student." + (probe.architecture.headParameterNames.first ?? "fc.weight")).shape
            try self.init(name: name, inChannels: first.count > 1 ? first[1] : 3, numClasses: head[0], rng: &rng)
            try load(from: file, prefix: "student.")
            return
        }
        guard let name = file.metadata["model"] else {
            throw CheckpointError.missingMetadata(file: url.path, key: "model")
        }
        try self.init(name: name, inChannels: Int(file.metadata["in_channels"] ?? "3") ?? 3,
                      numClasses: Int(file.metadata["num_classes"] ?? "10") ?? 10, rng: &rng)
        try load(from: file)
    }
}
