// Sums over contiguous runs with independent SIMD accumulators: a plain `s += p[i]` loop is one
// dependent chain of additions (no reassociation is allowed), several times slower. The order
// of additions is fixed by the count alone, so results are reproducible.

enum Reduce {
    typealias Lanes = SIMD8<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Lanes { UnsafeRawPointer(p).loadUnaligned(as: Lanes.self) }

    /// Σ f(i) over 0..<n, where `lanes(i)` gives f at i..<i+8 and `scalar(i)` f at i; four
    /// accumulators of eight lanes each.
    @inline(__always)
    static func sum(_ n: Int, lanes: (Int) -> Lanes, scalar: (Int) -> Float) -> Float {
        var a0 = Lanes(), a1 = Lanes(), a2 = Lanes(), a3 = Lanes()
        var i = 0
        while i + 32 <= n {
            a0 += lanes(i); a1 += lanes(i + 8); a2 += lanes(i + 16); a3 += lanes(i + 24)
            i += 32
        }
        while i + 8 <= n { a0 += lanes(i); i += 8 }
        var s = ((a0 + a1) + (a2 + a3)).sum()
        while i < n { s += scalar(i); i += 1 }
        return s
    }

    /// Σ p[i].
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        sum(n, lanes: { load(p + $0) }, scalar: { p[$0] })
    }

    /// Σ (p[i] − c)².
    static func sumOfSquares(_ p: UnsafePointer<Float>, _ n: Int, minus c: Float) -> Float {
        let cv = Lanes(repeating: c)
        return sum(n, lanes: { let d = load(p + $0) - cv; return d * d }, scalar: { let d = p[$0] - c; return d * d })
    }

    /// Σ a[i]·(b[i] − c).
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int, minus c: Float) -> Float {
        let cv = Lanes(repeating: c)
        return sum(n, lanes: { load(a + $0) * (load(b + $0) - cv) }, scalar: { a[$0] * (b[$0] - c) })
    }
}
