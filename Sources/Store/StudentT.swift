// The two-sided 95% critical values of Student's t distribution, for the paired-difference
// intervals of the `cell_effect` view. The migration that creates the view stores t_{0.975, df}
// for df 1…`tabulated` in the table `t_quantiles`; beyond that the view (and `criticalValue`)
// uses the Cornish–Fisher expansion around the normal quantile, accurate to better than 1e-7 there.
import Foundation

public enum StudentT {
    /// The largest degrees of freedom stored in `t_quantiles`.
    public static let tabulated = 100

    /// z_{0.975}, the normal quantile the expansion starts from.
    static let z = 1.959963984540054
    /// The expansion's coefficients: t ≈ z + a1 / df + a2 / df² + a3 / df³.
    static let a1 = (pow(z, 3) + z) / 4
    static let a2 = (5 * pow(z, 5) + 16 * pow(z, 3) + 3 * z) / 96
    static let a3 = (3 * pow(z, 7) + 19 * pow(z, 5) + 17 * pow(z, 3) - 15 * z) / 384

    /// t_{0.975, df}: the value a t-distributed variable with `df` degrees of freedom exceeds with
    /// probability 0.025 — what the view uses: the exact quantile up to `tabulated`, the expansion beyond.
    public static func criticalValue(df: Int) -> Double {
        precondition(df >= 1, "StudentT: degrees of freedom must be at least 1, got \(df)")
        return df <= tabulated ? quantile975(df: df) : largeDFCriticalValue(df: df)
    }

    /// The expansion t ≈ z + a1/df + a2/df² + a3/df³, as the view's SQL spells it.
    static func largeDFCriticalValue(df: Int) -> Double {
        let v = Double(df)
        return z + a1 / v + a2 / (v * v) + a3 / (v * v * v)
    }

    /// The SQL expression of the expansion for degrees of freedom `df` (a column or expression).
    static func largeDFSQL(_ df: String) -> String {
        let v = "(\(df))"
        return "(\(z) + \(a1) / \(v) + \(a2) / (\(v) * \(v)) + \(a3) / (\(v) * \(v) * \(v)))"
    }

    /// The exact quantile t_{0.975, df}, by bisection on the distribution function.
    public static func quantile975(df: Int) -> Double {
        // P(T > t) = I_{df / (df + t²)}(df / 2, 1 / 2) / 2, decreasing in t.
        var low = 0.0, high = 1000.0
        for _ in 0..<200 {
            let mid = (low + high) / 2
            let tail = regularizedIncompleteBeta(Double(df) / (Double(df) + mid * mid), Double(df) / 2, 0.5) / 2
            if tail > 0.025 { low = mid } else { high = mid }
            if high - low <= 1e-15 * high { break }
        }
        return (low + high) / 2
    }

    /// I_x(a, b), by the continued fraction (modified Lentz), on the side where it converges fast.
    static func regularizedIncompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logBeta: Double = lgamma(a) + lgamma(b) - lgamma(a + b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let front = exp(logPowers - logBeta)
        if x < (a + 1) / (a + b + 2) { return front * continuedFraction(x, a, b) / a }
        return 1 - front * continuedFraction(1 - x, b, a) / b
    }

    private static func continuedFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m), m2 = 2 * m
            var aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d; h *= d * c
            aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            h *= step
            if abs(step - 1) < 1e-16 { break }
        }
        return h
    }
}
