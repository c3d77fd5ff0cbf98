import XCTest
import Tensor
@testable import Autograd

/// Values spaced 0.07 apart in random order, none within 0.035 of zero and not symmetric about
/// it: central differences with eps 0.01 never cross a kink of ReLU, abs, max or max pooling.
func spread(_ shape: [Int], _ rng: inout RNG, scale: Float = 1) -> Tensor {
    let n = shape.product
    let values = (0..<n).map { (Float($0 - n / 2) + 1.5) * 0.07 * scale }
    return Tensor(shape: shape, data: rng.permutation(n).map { values[$0] })
}

func positive(_ shape: [Int], _ rng: inout RNG) -> Tensor { Tensor.uniform(shape, low: 0.5, high: 2, rng: &rng) }

/// Asserts first- and (optionally) second-order gradient checks of `op` pass.
func assertGradients(_ name: String, _ inputs: [Tensor], secondOrder: Bool, rng: inout RNG,
                     eps: Float = 1e-2, tolerance: Double = 2e-3,
                     file: StaticString = #filePath, line: UInt = #line,
                     _ op: @escaping ([Variable]) -> Variable) {
    let first = GradCheck.checkOp(inputs, rng: &rng, eps: eps, tolerance: tolerance, op)
    XCTAssertTrue(first.passed, "\(name) first order: \(first)", file: file, line: line)
    guard secondOrder else { return }
    let second = GradCheck.checkOpSecondOrder(inputs, rng: &rng, eps: eps, tolerance: tolerance, op)
    XCTAssertTrue(second.passed, "\(name) second order: \(second)", file: file, line: line)
}
