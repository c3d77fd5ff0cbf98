// Pretrained weights from outside atx: a torchvision state dict written as safetensors by
// `scripts/export-torchvision` (parameter names unchanged, `num_batches_tracked` dropped).
// Loading is strict: the file must hold exactly the model's tensors with the model's shapes,
// except the classifier, which a checkpoint with another class count cannot fill; that head
// keeps its fresh initialisation (the fine-tuning case: 1000 ImageNet classes → 200 birds).
import Foundation
import Tensor

public enum PretrainedError: Error, CustomStringConvertible, Equatable {
    /// The file's metadata names another architecture.
    case architectureMismatch(file: String, model: String, found: String)
    /// The file holds tensors the model does not have (typically another architecture).
    case unexpectedTensors(file: String, model: String, names: [String])

    public var description: String {
        switch self {
        case let .architectureMismatch(file, model, found):
            return "\(file): weights of '\(found)', cannot load them into '\(model)'"
        case let .unexpectedTensors(file, model, names):
            let shown = names.prefix(8).joined(separator: ", ") + (names.count > 8 ? ", … (\(names.count) in all)" : "")
            return "\(file): tensors '\(model)' does not have: \(shown) (weights of another architecture?)"
        }
    }
}

/// What `loadPretrained` did: where the weights came from, and what it kept fresh.
public struct PretrainedLoad: Sendable, Equatable, CustomStringConvertible {
    public let file: String
    /// SHA-256 of the file (64 hex digits), to name the weights in a run's identity.
    public let sha256: String
    /// The file's metadata (the export script records the source model and weights).
    public let metadata: [String: String]
    /// Parameters and buffers taken from the file.
    public let loaded: [String]
    /// Head parameters left freshly initialised because the file's class count differs.
    public let freshHead: [String]
    /// Class counts of the file's head and of the model when they differ.
    public let headClasses: (file: Int, model: Int)?
    /// Tensors of the file that are not weights (`*.num_batches_tracked`), skipped.
    public let ignored: [String]

    public var description: String {
        var s = "loaded \(loaded.count) tensors from \(file) (sha256 \(sha256.prefix(16))…)"
        if let (f, m) = headClasses {
            s += "; \(freshHead.joined(separator: ", ")) freshly initialised: the file's head has \(f) classes, the model \(m)"
        }
        return s
    }

    public static func == (a: PretrainedLoad, b: PretrainedLoad) -> Bool {
        (a.file, a.sha256, a.metadata, a.loaded, a.freshHead, a.ignored) == (b.file, b.sha256, b.metadata, b.loaded, b.freshHead, b.ignored)
            && a.headClasses?.file == b.headClasses?.file && a.headClasses?.model == b.headClasses?.model
    }
}

extension Model {
    /// Builds `name` with a fresh classifier of `numClasses` and everything else from the
    /// weights file `pretrained` (see `loadPretrained`); the result is in `self.pretrained`.
    public convenience init(name: String, pretrained url: URL, inChannels: Int = 3, numClasses: Int, rng: inout RNG) throws {
        try self.init(name: name, inChannels: inChannels, numClasses: numClasses, rng: &rng)
        try loadPretrained(from: url)
    }

    /// Replaces every parameter and buffer with the tensors of the safetensors file at `url`.
    /// Refused, naming the file and the tensor: metadata of another model, a tensor the model
    /// lacks, a missing tensor, a wrong shape. When the file's head (`fc.weight` [K, F],
    /// `fc.bias` [K]) has K ≠ `numClasses` classes and the right F, the head keeps its current
    /// (fresh) values and the result says so. `*.num_batches_tracked` is ignored. Nothing
    /// changes unless the whole load succeeds.
    @discardableResult
    public func loadPretrained(from url: URL) throws -> PretrainedLoad {
        let file = try SafeTensorsFile(contentsOf: url)
        if let found = file.metadata["model"], found.lowercased() != name.lowercased() {
            throw PretrainedError.architectureMismatch(file: url.path, model: name, found: found)
        }
        let ignored = file.names.filter { $0.hasSuffix(".num_batches_tracked") }
        let known = Set(parameterNames).union(buffers.keys)
        let extra = file.names.filter { !known.contains($0) && !ignored.contains($0) }
        if !extra.isEmpty { throw PretrainedError.unexpectedTensors(file: url.path, model: name, names: extra) }

        // A head that differs only in its class count stays fresh.
        let head = architecture.headParameterNames.filter { parameters[$0] != nil }
        var freshHead: [String] = [], headClasses: (file: Int, model: Int)?
        if let weight = head.first(where: { $0.hasSuffix(".weight") }), let entry = file.entries[weight],
           let ours = parameters[weight]?.shape, entry.shape.count == 2, ours.count == 2,
           entry.shape[1] == ours[1], entry.shape[0] != ours[0] {
            let k = entry.shape[0]
            for p in head where p != weight {
                let expected = [k] + parameters[p]!.shape.dropFirst()
                _ = try file.tensor(named: p, expectedShape: expected)   // the rest of the head must fit the same K
            }
            freshHead = head
            headClasses = (k, ours[0])
        }

        var params = parameters, bufs = buffers, loaded: [String] = []
        for name in parameterNames where !freshHead.contains(name) {
            params[name] = try file.tensor(named: name, expectedShape: parameters[name]!.shape)
            loaded.append(name)
        }
        for name in buffers.keys.sorted() {
            bufs[name] = try file.tensor(named: name, expectedShape: buffers[name]!.shape)
            loaded.append(name)
        }
        parameters = params
        buffers = bufs
        let result = PretrainedLoad(file: url.path, sha256: file.sha256, metadata: file.metadata, loaded: loaded,
                                    freshHead: freshHead, headClasses: headClasses, ignored: ignored)
        pretrained = result
        return result
    }
}
