// How numbers and names are spelled in tables and figures. Everything is locale-free, so the
// output is the same bytes on every machine.
import Foundation

public enum Format {
    /// `value` with `decimals` digits after the point; never "-0.00".
    static func fixed(_ value: Double, _ decimals: Int = 2) -> String {
        let text = String(format: "%.\(decimals)f", value)
        return text.hasPrefix("-") && text.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) ? String(text.dropFirst()) : text
    }

    /// `value` with an explicit sign and two decimals: "+0.12", "-0.40", "0.00".
    /// As `signed`, one decimal: "-1.5", "+0.3", "0.0".
    static func signed1(_ value: Double) -> String {
        let text = fixed(value, 1)
        return text.allSatisfy({ $0 == "0" || $0 == "." }) || text.hasPrefix("-") ? text : "+" + text
    }

    static func signed(_ value: Double) -> String {
        let text = fixed(value)
        return text.allSatisfy({ $0 == "0" || $0 == "." }) || text.hasPrefix("-") ? text : "+" + text
    }

    /// A p-value to four significant digits: 0.25, 0.0625, 1; below 0.001 in scientific notation.
    static func pValue(_ p: Double) -> String {
        p >= 0.001 ? String(format: "%.4g", p) : String(format: "%.1e", p)
    }

    /// A short plain number: 0.1, 0.0005, 200.
    static func number(_ value: Double) -> String { String(format: "%g", value) }

    /// 50000 → "50,000".
    public static func thousands(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// A parameter count as the paper rounds it: 175,066 → "0.2M", 1,005,642 → "1M"; below
    /// 50,000 in thousands ("38K").
    static func parameters(_ count: Int) -> String {
        if count < 50_000 { return "\(Int((Double(count) / 1000).rounded()))K" }
        let tenths = Int((Double(count) / 100_000).rounded())
        return tenths % 10 == 0 ? "\(tenths / 10)M" : "\(tenths / 10).\(tenths % 10)M"
    }

    /// A list with a plural noun: "seed 0", "seeds 0, 1, 2".
    static func list(_ noun: String, _ items: [String]) -> String {
        (items.count == 1 ? noun : noun + "s") + " " + items.joined(separator: ", ")
    }
}
