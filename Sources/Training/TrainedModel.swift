// Loading a trained model (a teacher, or a model to draw) from a run's checkpoint, with the
// check that it holds the network the caller expects: `atx train`, `atx attention` and the
// grid's worker all load through here.
import Foundation
import Autograd
import NN
import Tensor

/// A checkpoint holds another network than the one asked for.
public struct ModelMismatch: Error, CustomStringConvertible, Equatable {
    /// How the caller names what it expected, e.g. "--teacher" or "teacher".
    public var role: String
    public var expected: String
    public var found: String
    public var path: String
    public init(role: String, expected: String, found: String, path: String) {
        self.role = role; self.expected = expected; self.found = found; self.path = path
    }
    public var description: String { "\(role) \(expected) but \(path) holds a \(found)" }
}

extension Model {
    /// The model saved at `path` (a run's model.safetensors or checkpoint); with `expected`, an
    /// error unless it is that network (`role` names the expectation in the message).
    public static func trained(at path: String, expected: String? = nil, role: String = "model") throws -> Model {
        let m = try Model(checkpoint: URL(fileURLWithPath: path))
        if let expected, expected != m.name {
            throw ModelMismatch(role: role, expected: expected, found: m.name, path: path)
        }
        return m
    }
}

extension Model {
    /// The F_sum^2-style attention map (`mapping`) of each group for the first image of
    /// `images` ([N, C, H, W]), eval mode, without a graph: per group its values row by row and
    /// its width and height.
    public func attentionMaps(_ images: Tensor, mapping: Mapping = .sum2) -> [(values: [Float], width: Int, height: Int)] {
        let groups = GradMode.withoutGraph { forward(Variable(images), mode: .eval, requiresGrad: false).output.groups }
        return groups.map { g in
            let a = attention(g, mapping: mapping).value
            return (Array(a.data[0..<(g.shape[2] * g.shape[3])]), g.shape[3], g.shape[2])
        }
    }
}
