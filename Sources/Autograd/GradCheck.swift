// A reusable numerical gradient checker: central differences against `gradients(of:wrt:)`.
// Second order is checked by applying the same checker to a function that itself takes a
// gradient with `createGraph: true` (a Hessian-vector product).
import Tensor

public struct GradCheckReport: CustomStringConvertible, Sendable {
    /// ‖numeric − analytic‖₂ / max(‖numeric‖₂, ‖analytic‖₂, 1e-6), one per input.
    public var relativeErrors: [Double]
    public var tolerance: Double
    public var passed: Bool { relativeErrors.allSatisfy { $0 <= tolerance } }
    public var worst: Double { relativeErrors.max() ?? 0 }
    public var description: String {
        "gradcheck \(passed ? "passed" : "FAILED"): relative errors \(relativeErrors.map { String(format: "%.2e", $0) }) (tolerance \(tolerance))"
    }
}

public enum GradCheck {
    /// Compares the gradient of the scalar `f(inputs)` with central differences of step `eps`,
    /// evaluated in Double from Float32 forwards.
    public static func check(_ inputs: [Tensor], eps: Float = 1e-2, tolerance: Double = 2e-3,
                             _ f: ([Variable]) -> Variable) -> GradCheckReport {
        let vars = inputs.enumerated().map { Variable($1, requiresGrad: true, name: "input\($0)") }
        let loss = f(vars)
        let analytic: [Tensor]
        do {
            analytic = try gradients(of: loss, wrt: vars, allowUnused: true).map(\.value)
        } catch {
            preconditionFailure("gradcheck: \(error)")
        }
        var errors: [Double] = []
        for (k, x) in inputs.enumerated() {
            var numeric = [Double](repeating: 0, count: x.count)
            for i in 0..<x.count {
                func eval(_ delta: Float) -> Double {
                    var xs = inputs
                    xs[k].data[i] += delta
                    let v = GradMode.withoutGraph { f(xs.map { Variable($0) }) }
                    return Double(v.value.scalar)
                }
                numeric[i] = (eval(eps) - eval(-eps)) / (2 * Double(eps))
            }
            var diff = 0.0, nn = 0.0, na = 0.0
            for i in 0..<x.count {
                let a = Double(analytic[k].data[i])
                diff += (numeric[i] - a) * (numeric[i] - a); nn += numeric[i] * numeric[i]; na += a * a
            }
            errors.append(diff.squareRoot() / Swift.max(nn.squareRoot(), na.squareRoot(), 1e-6))
        }
        return GradCheckReport(relativeErrors: errors, tolerance: tolerance)
    }

    /// First-order check of a tensor-valued op: the scalar is ⟨op(inputs), u⟩ for a fixed random u.
    public static func checkOp(_ inputs: [Tensor], rng: inout RNG, eps: Float = 1e-2, tolerance: Double = 2e-3,
                               _ op: @escaping ([Variable]) -> Variable) -> GradCheckReport {
        let probe = GradMode.withoutGraph { op(inputs.map { Variable($0) }) }
        let u = Variable(Tensor.normal(probe.shape, rng: &rng))
        return check(inputs, eps: eps, tolerance: tolerance) { (op($0) * u).sum() }
    }

    /// Second-order check: h(inputs) = Σ_k ⟨∇_k ⟨op(inputs), u⟩, v_k⟩ with the gradient taken
    /// with createGraph, then h's own gradient is compared with central differences.
    public static func checkOpSecondOrder(_ inputs: [Tensor], rng: inout RNG, eps: Float = 1e-2, tolerance: Double = 2e-3,
                                          _ op: @escaping ([Variable]) -> Variable) -> GradCheckReport {
        let probe = GradMode.withoutGraph { op(inputs.map { Variable($0) }) }
        let u = Variable(Tensor.normal(probe.shape, rng: &rng))
        let vs = inputs.map { Variable(Tensor.normal($0.shape, rng: &rng)) }
        return check(inputs, eps: eps, tolerance: tolerance) { xs in
            // On the numeric side `check` evaluates under `withoutGraph`; the inner gradient
            // still needs a graph, so it is taken on fresh leaves holding the same values.
            let g = GradMode.$enabled.withValue(true) { () -> [Variable] in
                let leaves = xs.map { $0.requiresGrad ? $0 : Variable($0.value, requiresGrad: true) }
                let y = (op(leaves) * u).sum()
                return (try? gradients(of: y, wrt: leaves, createGraph: true, allowUnused: true)) ?? []
            }
            return zip(g, vs).map { ($0 * $1).sum() }.reduce(Variable(Tensor(scalar: 0))) { $0 + $1 }
        }
    }
}
