// How many paired seeds a two-sided paired t test at level 0.05 needs to detect an effect with
// power 0.8, for the `cell_effect` view's `seeds_needed`. With n pairs the test's statistic is a
// noncentral t with n − 1 degrees of freedom and noncentrality λ = |δ|·√n / σ (δ the effect, σ the
// standard deviation of the differences); its power grows with λ. The migration that creates the
// view stores, for n = 2…`tabulated`, the λ at which the power reaches 0.8 (`power_thresholds`);
// the view takes the smallest n whose λ reaches it, and beyond the table the normal approximation
// n = ((z_0.975 + z_0.8)·σ/δ)² + z_0.975²/2 (Guenther's), which is within one seed there.
import Foundation

public enum PairedPower {
    /// The largest n stored in `power_thresholds`.
    public static let tabulated = 200
    /// The test's level and the power asked for.
    public static let alpha = 0.05, power = 0.8
    /// z_{0.975} and z_{0.8}.
    static let z975 = 1.959963984540054, z80 = 0.8416212335729143

    /// Φ(x), the standard normal distribution function.
    static func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// The power of the two-sided level-0.05 t test with `n` pairs at noncentrality `lambda`:
    /// P(|T'| > t_{0.975, n−1}) = E_S[Φ(λ − c·S) + Φ(−λ − c·S)], S = √(V/df), V ~ χ²_df, by
    /// Simpson's rule over S (agrees with scipy.stats.nct to 1e-10).
    public static func power(n: Int, lambda: Double) -> Double {
        precondition(n >= 2, "PairedPower: need at least 2 pairs, got \(n)")
        let c = StudentT.quantile975(df: n - 1)
        let df = Double(n - 1)
        let logNorm = log(2.0) + (df / 2) * log(df / 2) - lgamma(df / 2)
        func density(_ s: Double) -> Double {
            guard s > 0 else { return df == 1 ? exp(logNorm) : 0 }
            return exp(logNorm + (df - 1) * log(s) - df * s * s / 2)
        }
        let spread = 1 / (2 * df).squareRoot()
        let lo = max(0, 0.5 - 12 * spread), hi = 1.5 + 12 * spread
        let steps = 2000, h = (hi - lo) / Double(steps)
        var sum = 0.0
        for i in 0...steps {
            let s = lo + Double(i) * h
            let w: Double = i == 0 || i == steps ? 1 : (i % 2 == 1 ? 4 : 2)
            sum += w * density(s) * (normalCDF(lambda - c * s) + normalCDF(-lambda - c * s))
        }
        return sum * h / 3
    }

    /// threshold(n) for n = 2…`tabulated`, as `threshold(n:)` computes it (in 1.5 s, so computed once
    /// and written here; `PowerTests` recomputes them and checks them against scipy's and G*Power's).
    public static let thresholds: [Double] = [
        16.3340088699, 5.6534892661, 4.2558986865, 3.7610595539, 3.5139027292, 3.3668948971, 3.2697598404, 3.2009196487,
        3.1496328865, 3.1099681016, 3.0783886757, 3.0526574671, 3.0312912794, 3.0132684558, 2.9978625781, 2.9845431487,
        2.9729137923, 2.9626724364, 2.9535848698, 2.9454667171, 2.9381708644, 2.9315785068, 2.9255926564, 2.9201333578,
        2.9151341082, 2.9105391448, 2.9063013615, 2.9023806927, 2.8987428463, 2.8953583002, 2.8922015009, 2.8892502190,
        2.8864850259, 2.8838888658, 2.8814467050, 2.8791452405, 2.8769726582, 2.8749184303, 2.8729731447, 2.8711283614,
        2.8693764902, 2.8677106859, 2.8661247598, 2.8646131021, 2.8631706166, 2.8617926625, 2.8604750051, 2.8592137724,
        2.8580054165, 2.8568466812, 2.8557345719, 2.8546663305, 2.8536394119, 2.8526514643, 2.8517003110, 2.8507839342,
        2.8499004614, 2.8490481517, 2.8482253851, 2.8474306519, 2.8466625436, 2.8459197443, 2.8452010237, 2.8445052298,
        2.8438312828, 2.8431781698, 2.8425449395, 2.8419306978, 2.8413346032, 2.8407558633, 2.8401937312, 2.8396475020,
        2.8391165106, 2.8386001280, 2.8380977596, 2.8376088426, 2.8371328440, 2.8366692584, 2.8362176065, 2.8357774335,
        2.8353483072, 2.8349298171, 2.8345215725, 2.8341232017, 2.8337343509, 2.8333546828, 2.8329838761, 2.8326216239,
        2.8322676338, 2.8319216263, 2.8315833343, 2.8312525027, 2.8309288873, 2.8306122547, 2.8303023813, 2.8299990528,
        2.8297020642, 2.8294112188, 2.8291263278, 2.8288472103, 2.8285736926, 2.8283056079, 2.8280427957, 2.8277851022,
        2.8275323792, 2.8272844843, 2.8270412805, 2.8268026358, 2.8265684233, 2.8263385206, 2.8261128098, 2.8258911774,
        2.8256735138, 2.8254597133, 2.8252496740, 2.8250432975, 2.8248404889, 2.8246411563, 2.8244452113, 2.8242525682,
        2.8240631442, 2.8238768593, 2.8236936361, 2.8235133997, 2.8233360778, 2.8231616002, 2.8229898989, 2.8228209084,
        2.8226545648, 2.8224908064, 2.8223295735, 2.8221708082, 2.8220144540, 2.8218604567, 2.8217087632, 2.8215593223,
        2.8214120842, 2.8212670004, 2.8211240242, 2.8209831098, 2.8208442130, 2.8207072908, 2.8205723014, 2.8204392041,
        2.8203079594, 2.8201785289, 2.8200508754, 2.8199249623, 2.8198007544, 2.8196782172, 2.8195573173, 2.8194380221,
        2.8193202999, 2.8192041197, 2.8190894514, 2.8189762657, 2.8188645341, 2.8187542287, 2.8186453223, 2.8185377886,
        2.8184316017, 2.8183267365, 2.8182231684, 2.8181208736, 2.8180198287, 2.8179200110, 2.8178213982, 2.8177239686,
        2.8176277011, 2.8175325749, 2.8174385700, 2.8173456666, 2.8172538455, 2.8171630879, 2.8170733753, 2.8169846899,
        2.8168970141, 2.8168103307, 2.8167246231, 2.8166398748, 2.8165560698, 2.8164731924, 2.8163912274, 2.8163101597,
        2.8162299748, 2.8161506581, 2.8160721959, 2.8159945742, 2.8159177796, 2.8158417991, 2.8157666197, 2.8156922288,
        2.8156186141, 2.8155457636, 2.8154736653, 2.8154023076, 2.8153316793, 2.8152617692, 2.8151925664,
    ]

    /// The noncentrality at which the test with `n` pairs reaches power 0.8, by bisection.
    public static func threshold(n: Int) -> Double {
        var low = 0.0, high = 100.0
        while power(n: n, lambda: high) < power { high *= 2 }
        for _ in 0..<60 {
            let mid = (low + high) / 2
            if power(n: n, lambda: mid) < power { low = mid } else { high = mid }
        }
        return high
    }

    /// The seeds needed to detect `effect` when the differences' standard deviation is `sd`: the
    /// smallest n ≥ 2 with |effect|·√n/sd ≥ threshold(n), as the view computes it (nil for a zero
    /// effect).
    public static func seedsNeeded(effect: Double, sd: Double) -> Int? {
        guard effect != 0 else { return nil }
        guard sd > 0 else { return 2 }
        for n in 2...tabulated where abs(effect) * Double(n).squareRoot() / sd >= thresholds[n - 2] { return n }
        return beyondTable(effect: effect, sd: sd)
    }

    /// Guenther's normal approximation, used beyond the table.
    static func beyondTable(effect: Double, sd: Double) -> Int {
        let r = (z975 + z80) * sd / abs(effect)
        return max(tabulated + 1, Int((r * r + z975 * z975 / 2).rounded(.up)))
    }

    /// The SQL of `beyondTable` for columns or expressions `effect` and `sd`.
    static func beyondTableSQL(effect: String, sd: String) -> String {
        let r = "((\(z975) + \(z80)) * (\(sd)) / abs(\(effect)))"
        return "MAX(\(tabulated + 1), CAST(ceil(\(r) * \(r) + \(z975 * z975 / 2)) AS INTEGER))"
    }
}
