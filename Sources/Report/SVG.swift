// The SVG elements the figures are drawn with (error curves, effects), in one place.

protocol SVGDrawing {}

extension SVGDrawing {
    /// A coordinate with one decimal.
    func f(_ value: Double) -> String { String(format: "%.1f", value) }

    /// The opening of a figure: the svg element on a white page, its title and subtitle.
    func header(width: Double, height: Double, titleX: Double, title: String, subtitle: String) -> [String] {
        ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">",
         "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
         text(titleX, 30, title, size: 18, weight: "bold"),
         text(titleX, 52, subtitle, size: 12, fill: "#555")]
    }

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
