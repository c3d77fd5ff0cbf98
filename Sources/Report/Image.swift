// Images for figures like the paper's Figure 1: an input image next to its attention maps as
// heat maps, upscaled and composed into a grid of tiles, written with `PNG`.

/// An 8-bit colour.
public struct RGB: Sendable, Equatable, Hashable {
    public var r, g, b: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

    public static let white = RGB(255, 255, 255)
    public static let black = RGB(0, 0, 0)
}

/// An 8-bit RGB image, rows from top to bottom.
public struct RGBImage: Sendable, Equatable {
    public let width: Int, height: Int
    /// `width · height · 3` bytes: R, G, B of each pixel, row by row.
    public var pixels: [UInt8]

    /// An image filled with `color`.
    public init(width: Int, height: Int, fill color: RGB = .white) {
        precondition(width > 0 && height > 0, "an image needs pixels, got \(width)×\(height)")
        self.width = width; self.height = height
        pixels = Array(repeatElement([color.r, color.g, color.b], count: width * height).joined())
    }

    /// An image from planar (channel-first, [C, H, W]) intensities in [0, 1], clamped; one
    /// channel gives grey, three give RGB.
    public init(planar values: [Float], channels: Int, width: Int, height: Int) {
        precondition(channels == 1 || channels == 3, "planar images have 1 or 3 channels, got \(channels)")
        precondition(values.count == channels * width * height, "expected \(channels)×\(height)×\(width) values, got \(values.count)")
        self.init(width: width, height: height)
        let plane = width * height
        for i in 0..<plane {
            for k in 0..<3 {
                pixels[3 * i + k] = Self.byte(values[(channels == 1 ? 0 : k) * plane + i])
            }
        }
    }

    /// A heat map of `values` ([H, W], row by row) through `colormap`: `range` maps to the ends
    /// of the colormap (by default the values' minimum and maximum). With `size`, the values are
    /// resampled to that size first, so the colours stay on the colormap.
    public init(heatMap values: [Float], width: Int, height: Int, colormap: Colormap = .jet,
                range: ClosedRange<Float>? = nil, size: (width: Int, height: Int)? = nil,
                resampling: Resampling = .bilinear) {
        precondition(values.count == width * height, "expected \(height)×\(width) values, got \(values.count)")
        let (w, h) = size ?? (width, height)
        let scaled = Resampling.resample(values, channels: 1, width: width, height: height, toWidth: w, toHeight: h, resampling)
        let low = range?.lowerBound ?? values.min() ?? 0, high = range?.upperBound ?? values.max() ?? 1
        self.init(width: w, height: h)
        for (i, v) in scaled.enumerated() {
            let c = colormap.color(high > low ? Double((v - low) / (high - low)) : 0.5)
            pixels[3 * i] = c.r; pixels[3 * i + 1] = c.g; pixels[3 * i + 2] = c.b
        }
    }

    /// The pixel in column `x` and row `y`, from the top left.
    public subscript(x: Int, y: Int) -> RGB {
        get { let i = 3 * (y * width + x); return RGB(pixels[i], pixels[i + 1], pixels[i + 2]) }
        set { let i = 3 * (y * width + x); pixels[i] = newValue.r; pixels[i + 1] = newValue.g; pixels[i + 2] = newValue.b }
    }

    /// The image resampled to `width` × `height`.
    public func resized(width: Int, height: Int, _ resampling: Resampling = .bilinear) -> RGBImage {
        let values = Resampling.resample(pixels.map(Float.init), channels: 3, width: self.width, height: self.height,
                                         toWidth: width, toHeight: height, resampling)
        var out = RGBImage(width: width, height: height)
        out.pixels = values.map { UInt8(Swift.min(Swift.max($0.rounded(), 0), 255)) }
        return out
    }

    /// The image inside a border of `thickness` pixels: a text-free label (e.g. one colour for
    /// the teacher's tiles, another for the student's).
    public func framed(_ color: RGB, thickness: Int) -> RGBImage {
        var out = RGBImage(width: width + 2 * thickness, height: height + 2 * thickness, fill: color)
        out.place(self, x: thickness, y: thickness)
        return out
    }

    /// Tiles in rows (nil leaves a gap), each centred in its cell, `padding` pixels apart and
    /// around; a column is as wide as its widest tile, a row as tall as its tallest.
    public static func grid(_ tiles: [[RGBImage?]], padding: Int = 4, background: RGB = .white) -> RGBImage {
        let columns = tiles.map(\.count).max() ?? 0
        let widths = (0..<columns).map { c in tiles.compactMap { c < $0.count ? $0[c]?.width : nil }.max() ?? 0 }
        let heights = tiles.map { row in row.compactMap { $0?.height }.max() ?? 0 }
        func offsets(_ sizes: [Int]) -> [Int] { sizes.indices.map { i in padding + sizes[..<i].reduce(0, +) + i * padding } }
        let xs = offsets(widths), ys = offsets(heights)
        var out = RGBImage(width: Swift.max(padding + widths.reduce(0, +) + widths.count * padding, 1),
                           height: Swift.max(padding + heights.reduce(0, +) + heights.count * padding, 1), fill: background)
        for (r, row) in tiles.enumerated() {
            for (c, tile) in row.enumerated() {
                guard let tile else { continue }
                out.place(tile, x: xs[c] + (widths[c] - tile.width) / 2, y: ys[r] + (heights[r] - tile.height) / 2)
            }
        }
        return out
    }

    /// A vertical colour bar: the colormap's high end at the top.
    public static func colorbar(_ colormap: Colormap, width: Int, height: Int) -> RGBImage {
        var out = RGBImage(width: width, height: height)
        for y in 0..<height {
            let c = colormap.color(height > 1 ? 1 - Double(y) / Double(height - 1) : 0.5)
            for x in 0..<width { out[x, y] = c }
        }
        return out
    }

    /// Copies `tile` with its top-left corner at (x, y); it must fit.
    mutating func place(_ tile: RGBImage, x: Int, y: Int) {
        precondition(x >= 0 && y >= 0 && x + tile.width <= width && y + tile.height <= height, "tile does not fit")
        for row in 0..<tile.height {
            let from = 3 * row * tile.width, to = 3 * ((y + row) * width + x)
            pixels.replaceSubrange(to..<(to + 3 * tile.width), with: tile.pixels[from..<(from + 3 * tile.width)])
        }
    }

    static func byte(_ value: Float) -> UInt8 { UInt8((Swift.min(Swift.max(value, 0), 1) * 255).rounded()) }
}

/// Colour scales for heat maps, from 0 (low) to 1 (high).
public enum Colormap: Sendable {
    /// Perceptually uniform, dark blue → green → yellow (matplotlib's default).
    case viridis
    /// Blue → cyan → yellow → red, as in the paper's attention figures.
    case jet
    case gray

    /// The colour at `t`, clamped to [0, 1].
    public func color(_ t: Double) -> RGB {
        let t = Swift.min(Swift.max(t.isNaN ? 0 : t, 0), 1)
        func byte(_ v: Double) -> UInt8 { UInt8((Swift.min(Swift.max(v, 0), 1) * 255).rounded()) }
        switch self {
        case .gray:
            return RGB(byte(t), byte(t), byte(t))
        case .jet:
            return RGB(byte(1.5 - abs(4 * t - 3)), byte(1.5 - abs(4 * t - 2)), byte(1.5 - abs(4 * t - 1)))
        case .viridis:
            let stops = Self.viridisStops
            let x = t * Double(stops.count - 1), i = Swift.min(Int(x), stops.count - 2), w = x - Double(i)
            let a = stops[i], b = stops[i + 1]
            func mix(_ p: UInt8, _ q: UInt8) -> UInt8 { UInt8((Double(p) * (1 - w) + Double(q) * w).rounded()) }
            return RGB(mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b))
        }
    }

    /// matplotlib's viridis at t = 0, 0.1, …, 1.
    private static let viridisStops: [RGB] = [
        RGB(0x44, 0x01, 0x54), RGB(0x48, 0x24, 0x75), RGB(0x41, 0x44, 0x87), RGB(0x35, 0x5F, 0x8D),
        RGB(0x2A, 0x78, 0x8E), RGB(0x21, 0x91, 0x8C), RGB(0x22, 0xA8, 0x84), RGB(0x44, 0xBF, 0x70),
        RGB(0x7A, 0xD1, 0x51), RGB(0xBD, 0xDF, 0x26), RGB(0xFD, 0xE7, 0x25),
    ]
}

/// How an image or a map is scaled to another size.
public enum Resampling: Sendable {
    /// Each output pixel copies the input pixel it falls in: crisp blocks.
    case nearest
    /// Linear interpolation between input pixel centres (edges clamped): smooth.
    case bilinear

    /// Interleaved `channels`-valued pixels of a `width` × `height` grid, resampled.
    static func resample(_ values: [Float], channels: Int, width: Int, height: Int, toWidth: Int, toHeight: Int,
                         _ mode: Resampling) -> [Float] {
        if width == toWidth && height == toHeight { return values }
        var out = [Float](repeating: 0, count: toWidth * toHeight * channels)
        /// Source coordinate of destination index `i` (pixel centres aligned), its two neighbours and weight.
        func source(_ i: Int, _ from: Int, _ to: Int) -> (Int, Int, Float) {
            let x = Swift.min(Swift.max((Float(i) + 0.5) * Float(from) / Float(to) - 0.5, 0), Float(from - 1))
            let lo = Int(x)
            return (lo, Swift.min(lo + 1, from - 1), x - Float(lo))
        }
        for y in 0..<toHeight {
            for x in 0..<toWidth {
                let o = (y * toWidth + x) * channels
                switch mode {
                case .nearest:
                    let i = ((y * height / toHeight) * width + x * width / toWidth) * channels
                    for k in 0..<channels { out[o + k] = values[i + k] }
                case .bilinear:
                    let (y0, y1, wy) = source(y, height, toHeight), (x0, x1, wx) = source(x, width, toWidth)
                    for k in 0..<channels {
                        func v(_ yy: Int, _ xx: Int) -> Float { values[(yy * width + xx) * channels + k] }
                        let top = v(y0, x0) * (1 - wx) + v(y0, x1) * wx, bottom = v(y1, x0) * (1 - wx) + v(y1, x1) * wx
                        out[o + k] = top * (1 - wy) + bottom * wy
                    }
                }
            }
        }
        return out
    }
}
