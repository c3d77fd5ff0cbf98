// Geometry on decoded images: bilinear resize as Pillow (and so torchvision's `Resize` on PIL
// images) does it, crops, and the torchvision conventions for sizes and centre crops.
//
// The resize is Pillow's `Image.resize(size, BILINEAR)` (Resample.c) written out: a separable
// triangle filter whose support is widened by the scale factor when downscaling (so shrinking
// averages every source pixel — antialiasing — instead of sampling two), coefficients
// normalised per output pixel and rounded to 22-bit fixed point, the horizontal pass first into
// an 8-bit intermediate image, then the vertical pass, each output rounded and clamped to 0…255.
// The tests check it against Pillow itself within one intensity level.

/// The integer filter of one output axis: for output pixel i, `count[i]` source pixels from
/// `first[i]` with weights `weights[i * width ..< i * width + count[i]]` (sum ≈ 1 << 22).
struct ResampleKernel {
    static let precisionBits = 22
    let first: [Int]
    let count: [Int]
    let weights: [Int32]
    let width: Int

    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear filter, mapping
    /// `inSize` source pixels onto `outSize`.
    init(inSize: Int, outSize: Int) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 1.0 * filterScale, ss = 1.0 / filterScale
        width = Int(support.rounded(.up)) * 2 + 1
        var first = [Int](repeating: 0, count: outSize), count = first
        var weights = [Int32](repeating: 0, count: outSize * width)
        var k = [Double](repeating: 0, count: width)
        for o in 0..<outSize {
            let centre = (Double(o) + 0.5) * scale
            let lo = max(Int(centre - support + 0.5), 0)
            let n = min(Int(centre + support + 0.5), inSize) - lo
            var total = 0.0
            for x in 0..<n {
                let w = max(0, 1 - abs((Double(x + lo) - centre + 0.5) * ss))
                k[x] = w
                total += w
            }
            for x in 0..<n {
                let w = total != 0 ? k[x] / total : k[x]
                let scaled = w * Double(1 << ResampleKernel.precisionBits)
                weights[o * width + x] = Int32(w < 0 ? scaled - 0.5 : scaled + 0.5)
            }
            first[o] = lo
            count[o] = n
        }
        self.first = first
        self.count = count
        self.weights = weights
    }
}

@inline(__always) private func clip8(_ sum: Int) -> UInt8 {
    let shifted = sum >> ResampleKernel.precisionBits
    return UInt8(truncatingIfNeeded: shifted < 0 ? 0 : (shifted > 255 ? 255 : shifted))
}

extension PixelImage {
    /// The image resized to `width`×`height` with Pillow's BILINEAR filter (antialiased when shrinking).
    public func resized(width outWidth: Int, height outHeight: Int) -> PixelImage {
        precondition(outWidth >= 1 && outHeight >= 1, "PixelImage.resized: size \(outWidth)×\(outHeight) must be positive")
        var image = self
        if outWidth != width {
            let k = ResampleKernel(inSize: width, outSize: outWidth)
            var out = [UInt8](repeating: 0, count: outWidth * height * 3)
            pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    k.weights.withUnsafeBufferPointer { w in
                        for y in 0..<height {
                            let row = src.baseAddress! + y * width * 3
                            for o in 0..<outWidth {
                                var r = 1 << (ResampleKernel.precisionBits - 1), g = r, b = r
                                let base = row + k.first[o] * 3
                                let kw = w.baseAddress! + o * k.width
                                for x in 0..<k.count[o] {
                                    let c = Int(kw[x])
                                    r += Int(base[3 * x]) * c
                                    g += Int(base[3 * x + 1]) * c
                                    b += Int(base[3 * x + 2]) * c
                                }
                                let d = (y * outWidth + o) * 3
                                dst[d] = clip8(r); dst[d + 1] = clip8(g); dst[d + 2] = clip8(b)
                            }
                        }
                    }
                }
            }
            image = PixelImage(width: outWidth, height: height, pixels: out)
        }
        if outHeight != height {
            let k = ResampleKernel(inSize: height, outSize: outHeight)
            let rowBytes = outWidth * 3
            var out = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
            image.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    k.weights.withUnsafeBufferPointer { w in
                        var sums = [Int](repeating: 0, count: rowBytes)
                        for o in 0..<outHeight {
                            for i in 0..<rowBytes { sums[i] = 1 << (ResampleKernel.precisionBits - 1) }
                            let kw = w.baseAddress! + o * k.width
                            for y in 0..<k.count[o] {
                                let c = Int(kw[y])
                                let row = src.baseAddress! + (k.first[o] + y) * rowBytes
                                for i in 0..<rowBytes { sums[i] += Int(row[i]) * c }
                            }
                            let d = dst.baseAddress! + o * rowBytes
                            for i in 0..<rowBytes { d[i] = clip8(sums[i]) }
                        }
                    }
                }
            }
            image = PixelImage(width: outWidth, height: outHeight, pixels: out)
        }
        return image
    }

    /// Resized so that the shorter side is `shorter` (torchvision's `Resize(shorter)`).
    public func resized(shorterSide shorter: Int) -> PixelImage {
        let (w, h) = PixelImage.resizedSize(width: width, height: height, shorterSide: shorter)
        return resized(width: w, height: h)
    }

    /// torchvision's output size for `Resize(shorter)`: the shorter side becomes `shorter`, the
    /// longer `Int(shorter · long / short)` (truncated, as Python's `int`).
    public static func resizedSize(width: Int, height: Int, shorterSide shorter: Int) -> (width: Int, height: Int) {
        precondition(shorter >= 1, "resizedSize: shorter side must be positive, got \(shorter)")
        let long = Int(Double(shorter) * Double(max(width, height)) / Double(min(width, height)))
        return width <= height ? (shorter, long) : (long, shorter)
    }

    /// The `width`×`height` region with its top-left corner at (`x`, `y`); it must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> PixelImage {
        precondition(x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= width && y + h <= height,
                     "PixelImage.cropped: (\(x), \(y)) \(w)×\(h) is not inside \(width)×\(height)")
        if x == 0 && y == 0 && w == width && h == height { return self }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for r in 0..<h {
                    (dst.baseAddress! + r * w * 3).update(from: src.baseAddress! + ((y + r) * width + x) * 3, count: w * 3)
                }
            }
        }
        return PixelImage(width: w, height: h, pixels: out)
    }

    /// The image cropped to `box`, after rounding its edges to whole pixels (as PIL's `crop`
    /// rounds, half to even) and clamping them to the image; nil when nothing is left.
    public func cropped(to box: BoundingBox) -> PixelImage? {
        let x0 = max(0, Int(box.x.rounded(.toNearestOrEven))), y0 = max(0, Int(box.y.rounded(.toNearestOrEven)))
        let x1 = min(width, Int((box.x + box.width).rounded(.toNearestOrEven)))
        let y1 = min(height, Int((box.y + box.height).rounded(.toNearestOrEven)))
        guard x1 > x0, y1 > y0 else { return nil }
        return cropped(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }

    /// Mirrored left–right.
    public func flipped() -> PixelImage {
        var out = pixels
        for y in 0..<height {
            for x in 0..<width {
                let s = (y * width + width - 1 - x) * 3, d = (y * width + x) * 3
                out[d] = pixels[s]; out[d + 1] = pixels[s + 1]; out[d + 2] = pixels[s + 2]
            }
        }
        return PixelImage(width: width, height: height, pixels: out)
    }

    /// torchvision's `CenterCrop(side)` corner: `round((size − side) / 2)`, half to even.
    public static func centreCropOrigin(width: Int, height: Int, side: Int) -> (x: Int, y: Int) {
        (Int((Double(width - side) / 2).rounded(.toNearestOrEven)), Int((Double(height - side) / 2).rounded(.toNearestOrEven)))
    }
}

/// A box in pixel coordinates of the original image: top-left corner (x, y), width, height
/// (CUB-200-2011's `bounding_boxes.txt` convention).
public struct BoundingBox: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
}
