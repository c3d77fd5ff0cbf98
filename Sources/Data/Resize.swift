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
    /// The image resized to `width`×`height` with Pillow's BILINEAR filter (antialiased when
    /// shrinking). With `window` (x, y, width, height in the resized image), only that region of
    /// the result is computed and returned: the same pixels as resizing and then cropping.
    public func resized(width outWidth: Int, height outHeight: Int,
                        window: (x: Int, y: Int, width: Int, height: Int)? = nil) -> PixelImage {
        precondition(outWidth >= 1 && outHeight >= 1, "PixelImage.resized: size \(outWidth)×\(outHeight) must be positive")
        let win = window ?? (0, 0, outWidth, outHeight)
        precondition(win.x >= 0 && win.y >= 0 && win.width >= 1 && win.height >= 1
                     && win.x + win.width <= outWidth && win.y + win.height <= outHeight,
                     "PixelImage.resized: window \(win) is not inside \(outWidth)×\(outHeight)")
        let half = 1 << (ResampleKernel.precisionBits - 1)
        // The source rows the vertical pass reads (all of the window's rows when it is the identity).
        let vertical = outHeight != height ? ResampleKernel(inSize: height, outSize: outHeight) : nil
        let rows = vertical.map { k in
            k.first[win.y]..<(win.y..<win.y + win.height).map { k.first[$0] + k.count[$0] }.max()!
        } ?? win.y..<win.y + win.height
        // Horizontal pass: those rows, the window's columns, into an 8-bit intermediate (as Pillow).
        let tempRow = win.width * 3
        var temp = [UInt8](repeating: 0, count: rows.count * tempRow)
        pixels.withUnsafeBufferPointer { src in
            temp.withUnsafeMutableBufferPointer { dst in
                guard outWidth != width else {
                    for (r, y) in rows.enumerated() {
                        (dst.baseAddress! + r * tempRow).update(from: src.baseAddress! + (y * width + win.x) * 3, count: tempRow)
                    }
                    return
                }
                let k = ResampleKernel(inSize: width, outSize: outWidth)
                k.weights.withUnsafeBufferPointer { w in
                    for (r, y) in rows.enumerated() {
                        let row = src.baseAddress! + y * width * 3
                        for o in win.x..<win.x + win.width {
                            var red = half, green = half, blue = half
                            let base = row + k.first[o] * 3
                            let kw = w.baseAddress! + o * k.width
                            for x in 0..<k.count[o] {
                                let c = Int(kw[x])
                                red += Int(base[3 * x]) * c
                                green += Int(base[3 * x + 1]) * c
                                blue += Int(base[3 * x + 2]) * c
                            }
                            let d = r * tempRow + (o - win.x) * 3
                            dst[d] = clip8(red); dst[d + 1] = clip8(green); dst[d + 2] = clip8(blue)
                        }
                    }
                }
            }
        }
        guard let vertical else { return PixelImage(width: win.width, height: win.height, pixels: temp) }
        // Vertical pass over the intermediate rows.
        var out = [UInt8](repeating: 0, count: win.height * tempRow)
        temp.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                vertical.weights.withUnsafeBufferPointer { w in
                    var sums = [Int](repeating: 0, count: tempRow)
                    for o in win.y..<win.y + win.height {
                        for i in 0..<tempRow { sums[i] = half }
                        let kw = w.baseAddress! + o * vertical.width
                        for y in 0..<vertical.count[o] {
                            let c = Int(kw[y])
                            let row = src.baseAddress! + (vertical.first[o] + y - rows.lowerBound) * tempRow
                            for i in 0..<tempRow { sums[i] += Int(row[i]) * c }
                        }
                        let d = dst.baseAddress! + (o - win.y) * tempRow
                        for i in 0..<tempRow { d[i] = clip8(sums[i]) }
                    }
                }
            }
        }
        return PixelImage(width: win.width, height: win.height, pixels: out)
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
