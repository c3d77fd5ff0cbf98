// Tensor: Float32, row-major (NCHW for images), contiguous storage.
// A value type: storage is a Swift array, so copies are copy-on-write.

public struct Tensor: Sendable, Equatable {
    /// The extent of each dimension, outermost first: [N, C, H, W] for images.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `data.count == shape.product`.
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(shape)")
        precondition(shape.product == data.count,
                     "Tensor: shape \(shape) holds \(shape.product) elements, data has \(data.count)")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.product))
    }

    /// A rank-0 tensor holding one value.
    public init(scalar: Float) { self.init(shape: [], data: [scalar]) }

    /// Builds a tensor by letting `body` fill uninitialised storage of `shape.product` elements.

    public init(shape: [Int], unsafeUninitialized body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let n = shape.product
        let data = [Float](unsafeUninitializedCapacity: n) { buffer, count in
            body(buffer)
            count = n
        }
        self.shape = shape
        self.data = data
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }
    /// The value of a tensor with exactly one element.
    public var scalar: Float {
        precondition(count == 1, "Tensor.scalar: tensor of shape \(shape) is not a single value")
        return data[0]
    }

    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.product == count,
                     "reshape: cannot view shape \(shape) (\(count) elements) as \(newShape)")
        var t = self
        t.shape = newShape
        return t
    }

    public subscript(_ index: Int...) -> Float {
        get { data[offset(index)] }
        set { data[offset(index)] = newValue }
    }

    func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "Tensor index \(index) does not match shape \(shape)")
        var o = 0
        for (i, n) in zip(index, shape) {
            precondition(i >= 0 && i < n, "Tensor index \(index) out of bounds for shape \(shape)")
            o = o * n + i
        }
        return o
    }
}

extension Array where Element == Int {
    /// Number of elements of a tensor of this shape.
    public var product: Int { reduce(1, *) }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = data.prefix(8).map { String(format: "%.5g", Double($0)) }.joined(separator: ", ")
        return "Tensor\(shape)[\(head)\(count > 8 ? ", …" : "")]"
    }
}

import Foundation
