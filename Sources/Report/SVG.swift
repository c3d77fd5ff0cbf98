// The SVG elements the figures are drawn with (error curves, effects), in one place.

protocol SVGDrawing {}

extension SVGDrawing {
    /// A coordinate with one decimal.
    func f(_ value: Double) -> String { String(format: "%.1f", value) }

    func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1,
              dash: String? = nil) -> String {
        "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(stroke)\""
            + (width == 1 ? "" : " stroke-width=\"\(Format.number(width))\"") + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>"
    }

    func text(_ x: Double, _ y: Double, _ content: String, size: Int, anchor: String = "start",
              weight: String? = nil, fill: String = "#222") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(size)\"" + (anchor == "start" ? "" : " text-anchor=\"\(anchor)\"")
            + (weight.map { " font-weight=\"\($0)\"" } ?? "") + " fill=\"\(fill)\">\(CurvePlot.escape(content))</text>"
    }
}
