// A small SVG line chart for error curves: median lines with min–max bands, learning-rate
// drops, the paper's final numbers as ticks at the right edge, and a legend beside the plot.
// The whole run is drawn on a logarithmic y axis when the errors span more than a factor of 3
// (early epochs near chance, final ones a few percent), else a linear one; runs of 20 epochs or
// more get a second panel, the last quarter on a linear axis, where the methods part ways.
import Foundation

struct CurvePlot: SVGDrawing {
    struct Point: Equatable {
        var epoch: Int
        var median, min, max: Double
    }

    struct Series {
        var label: String
        var color: String
        var dashed: Bool
        var points: [Point]
        /// The paper's final error for this series, marked at the right edge.
        var paper: Double?
    }

    var title: String
    var subtitle: String
    var epochs: Int
    /// The first epochs at each lower learning rate (1-indexed).
    var milestones: [Int]
    var series: [Series]
    /// Whether the legend explains the paper's ticks.
    var paperLegend: Bool

    /// Tableau 10: distinct in colour and in lightness.
    static let palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
                          "#ff9da7", "#bab0ac"]

    /// A panel's horizontal extent; panels share the vertical one. SVG user units.
    struct Frame { var left, right: Double }

    static let height = 470.0, top = 72.0, bottom = 400.0
    /// Runs this long get a second panel: the last quarter of the epochs on a linear axis.
    static let zoomFromEpochs = 20

    func svg() -> String {
        let last = max(epochs, series.flatMap(\.points).map(\.epoch).max() ?? 1, 1)
        let zoom = last >= Self.zoomFromEpochs ? last - (last + 3) / 4 : nil
        let main = Frame(left: 72, right: zoom == nil ? 560 : 440)
        let legendX = (zoom == nil ? main.right : 800) + 28
        let width = legendX + 190
        var out = header(width: width, height: Self.height, titleX: main.left, title: title, subtitle: subtitle) + [
            "<text transform=\"translate(22 \(f((Self.top + Self.bottom) / 2))) rotate(-90)\" font-size=\"14\" "
                + "text-anchor=\"middle\">test error (%)</text>",
        ]
        var drops = panel(main, from: 0, to: last, id: "all", out: &out)
        if let zoom {
            out.append(text(520, Self.top - 8, "last \(last - zoom) epochs", size: 12, fill: "#555"))
            drops = panel(Frame(left: 520, right: 800), from: zoom, to: last, id: "end", out: &out) || drops
        }
        if series.allSatisfy({ $0.points.isEmpty }) {
            out.append(text((main.left + main.right) / 2, (Self.top + Self.bottom) / 2, "no run done yet", size: 14,
                            anchor: "middle", fill: "#888"))
        }
        out += legend(x: legendX, y: Self.top + 8, drops: drops)
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    /// Draws epochs `from`...`to` into `frame`: a logarithmic axis for a wide error range unless
    /// zoomed in, bands, lines, markers for short runs, learning-rate drops and the paper's ticks.
    /// Returns whether a drop was drawn.
    private func panel(_ frame: Frame, from: Int, to: Int, id: String, out: inout [String]) -> Bool {
        let visible = series.map { s in s.points.filter { $0.epoch >= from && $0.epoch <= to } }
        let values = zip(series, visible).flatMap { s, points in points.flatMap { [$0.min, $0.max] } + (s.paper.map { [$0] } ?? []) }
        let y = YAxis(values: values, allowLog: from == 0)
        let xTicks = Self.niceTicks(Double(from), Double(to), integer: true)
        let xLow = xTicks.first!, xHigh = xTicks.last!
        let drops = milestones.filter { $0 >= 2 && Double($0) - 0.5 > xLow && Double($0) - 0.5 < xHigh }
        func px(_ epoch: Double) -> Double { frame.left + (frame.right - frame.left) * (epoch - xLow) / (xHigh - xLow) }
        func py(_ value: Double) -> Double { Self.bottom - (Self.bottom - Self.top) * y.fraction(value) }

        for value in y.minorTicks {
            out.append(line(frame.left, py(value), frame.right, py(value), stroke: "#f0f0f0"))
        }
        for value in y.ticks {
            out.append(line(frame.left, py(value), frame.right, py(value), stroke: "#dddddd"))
            out.append(line(frame.left - 5, py(value), frame.left, py(value), stroke: "#333"))
            out.append(text(frame.left - 9, py(value) + 4, y.label(value), size: 12, anchor: "end"))
        }
        for value in xTicks {
            out.append(line(px(value), Self.bottom, px(value), Self.bottom + 5, stroke: "#333"))
            out.append(text(px(value), Self.bottom + 20, Format.number(value), size: 12, anchor: "middle"))
        }
        out.append(text((frame.left + frame.right) / 2, Self.bottom + 44, "epoch", size: 14, anchor: "middle"))
        // Epoch m is the first at the lower rate: the drop lies between epochs m − 1 and m.
        for m in drops {
            out.append(line(px(Double(m) - 0.5), Self.top, px(Double(m) - 0.5), Self.bottom, stroke: "#aaaaaa", dash: "2 4"))
        }

        // Bands first, then lines on top, clipped to the plot area (with room for markers on its edges).
        out.append("<clipPath id=\"\(id)\"><rect x=\"\(f(frame.left - 4))\" y=\"\(f(Self.top - 4))\" "
            + "width=\"\(f(frame.right - frame.left + 8))\" height=\"\(f(Self.bottom - Self.top + 8))\"/></clipPath>")
        out.append("<g clip-path=\"url(#\(id))\">")
        for (s, points) in zip(series, visible) where points.count > 1 {
            let upper = points.map { "\(f(px(Double($0.epoch)))),\(f(py($0.max)))" }
            let lower = points.reversed().map { "\(f(px(Double($0.epoch)))),\(f(py($0.min)))" }
            out.append("<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(s.color)\" fill-opacity=\"0.18\"/>")
        }
        for (s, points) in zip(series, visible) where !points.isEmpty {
            let d = points.enumerated().map { i, p in "\(i == 0 ? "M" : "L")\(f(px(Double(p.epoch)))) \(f(py(p.median)))" }
            out.append("<path d=\"\(d.joined(separator: " "))\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\""
                + (s.dashed ? " stroke-dasharray=\"7 4\"" : "") + " stroke-linejoin=\"round\"/>")
            guard points.count <= 25 else { continue }
            for p in points {
                if p.max > p.min { out.append(line(px(Double(p.epoch)), py(p.min), px(Double(p.epoch)), py(p.max), stroke: s.color)) }
                out.append("<circle cx=\"\(f(px(Double(p.epoch))))\" cy=\"\(f(py(p.median)))\" r=\"3\" fill=\"\(s.color)\"/>")
            }
        }
        out.append("</g>")
        // The paper's final numbers: ticks straddling the right edge.
        for s in series {
            guard let paper = s.paper, y.contains(paper) else { continue }
            out.append(line(frame.right - 7, py(paper), frame.right + 9, py(paper), stroke: s.color, width: 3))
        }
        out.append("<rect x=\"\(f(frame.left))\" y=\"\(f(Self.top))\" width=\"\(f(frame.right - frame.left))\" "
            + "height=\"\(f(Self.bottom - Self.top))\" fill=\"none\" stroke=\"#333\"/>")
        return !drops.isEmpty
    }

    private func legend(x: Double, y top: Double, drops: Bool) -> [String] {
        var out: [String] = []
        var y = top
        for s in series {
            out.append(line(x, y, x + 26, y, stroke: s.color, width: 2.5, dash: s.dashed ? "7 4" : nil))
            out.append(text(x + 34, y + 4, s.label, size: 13))
            y += 22
        }
        y += 8
        out.append("<rect x=\"\(f(x))\" y=\"\(f(y - 6))\" width=\"26\" height=\"12\" fill=\"#888\" fill-opacity=\"0.25\"/>")
        out.append(line(x, y, x + 26, y, stroke: "#888", width: 2))
        out.append(text(x + 34, y + 4, "median, min–max", size: 12, fill: "#555"))
        if paperLegend {
            y += 22
            out.append(line(x + 6, y, x + 22, y, stroke: "#888", width: 3))
            out.append(text(x + 34, y + 4, "paper, final epoch", size: 12, fill: "#555"))
        }
        if drops {
            y += 22
            out.append(line(x + 13, y - 8, x + 13, y + 8, stroke: "#aaaaaa", dash: "2 4"))
            out.append(text(x + 34, y + 4, "learning-rate drop", size: 12, fill: "#555"))
        }
        return out
    }

    // MARK: - Axes

    /// The y axis: logarithmic for errors spanning more than a factor of 3, else linear.
    struct YAxis {
        let log: Bool
        let low, high: Double
        let ticks: [Double]
        /// Unlabelled grid lines between the ticks of a logarithmic axis.
        let minorTicks: [Double]

        init(values: [Double], allowLog: Bool = true) {
            let finite = values.filter(\.isFinite)
            let lo = finite.min() ?? 0, hi = finite.max() ?? 100
            if allowLog, lo > 0, hi / lo > 3 {
                log = true
                let l = lo / 1.15, h = hi * 1.15
                low = l; high = h
                let decades = Int(Foundation.log10(l).rounded(.down))...Int(Foundation.log10(h).rounded(.up))
                let candidates = { (mantissas: [Double]) in
                    decades.flatMap { d in mantissas.map { $0 * pow(10, Double(d)) } }.filter { $0 >= l && $0 <= h }
                }
                // Label 1, 2 and 5 × 10^k, then any other digit that keeps 22 px from every label.
                let position = { (v: Double) in Foundation.log(v / l) / Foundation.log(h / l) }
                let gap = 22 / (CurvePlot.bottom - CurvePlot.top)
                var major = candidates([1, 2, 5])
                for t in candidates([3, 4, 6, 7, 8, 9]) where major.allSatisfy({ abs(position($0) - position(t)) >= gap }) {
                    major.append(t)
                }
                ticks = major.sorted()
                minorTicks = candidates([1, 2, 3, 4, 5, 6, 7, 8, 9]).filter { !major.contains($0) }
            } else {
                log = false
                let pad = hi > lo ? (hi - lo) * 0.08 : 1
                let t = CurvePlot.niceTicks(Swift.max(0, lo - pad), hi + pad, integer: false)
                ticks = t; minorTicks = []
                low = t.first!; high = t.last!
            }
        }

        func fraction(_ value: Double) -> Double {
            log ? (Foundation.log(value) - Foundation.log(low)) / (Foundation.log(high) - Foundation.log(low))
                : (value - low) / (high - low)
        }

        func contains(_ value: Double) -> Bool { value >= low && value <= high }

        func label(_ value: Double) -> String {
            let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
            return log || step >= 1 ? Format.number(value) : String(format: "%.\(Int((-Foundation.log10(step)).rounded(.up)))f", value)
        }
    }

    /// Ticks at multiples of 1, 2 or 5 × 10^k covering [low, high] with at most 8 intervals.
    static func niceTicks(_ low: Double, _ high: Double, integer: Bool) -> [Double] {
        let span = Swift.max(high - low, integer ? 1 : 1e-9)
        var step = pow(10, (log10(span / 8)).rounded(.down))
        for m in [1.0, 2, 5, 10] where span / (m * step) <= 8 { step *= m; break }
        if integer { step = Swift.max(step.rounded(), 1) }
        let first = (low / step).rounded(.down), last = (high / step).rounded(.up)
        return stride(from: first, through: Swift.max(last, first + 1), by: 1).map { $0 * step }
    }

    // MARK: - SVG elements

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
