// The paper's Figure 1: an input image followed by the attention map of each group, one row per
// network, as a PNG.

public enum AttentionFigure {
    /// One network's row: its attention maps, each `values` row by row at `width`×`height`.
    public typealias Maps = [(values: [Float], width: Int, height: Int)]

    /// The figure: per row the input (planar intensities in [0, 1], `channels`×`side`×`side`)
    /// then the row's maps as jet heat maps, every tile `tile` pixels square.
    public static func image(input: [Float], channels: Int, side: Int, rows: [Maps], tile: Int) -> RGBImage {
        let picture = RGBImage(planar: input, channels: channels, width: side, height: side).resized(width: tile, height: tile, .nearest)
        let tiles: [[RGBImage?]] = rows.map { maps in
            [picture] + maps.map { RGBImage(heatMap: $0.values, width: $0.width, height: $0.height, colormap: .jet, size: (tile, tile)) }
        }
        return RGBImage.grid(tiles, padding: 6)
    }

    /// Writes `image(…)` to `path` as a PNG.
    public static func write(to path: String, input: [Float], channels: Int, side: Int, rows: [Maps], tile: Int) throws {
        try PNG.write(image(input: input, channels: channels, side: side, rows: rows, tile: tile), to: path)
    }
}
