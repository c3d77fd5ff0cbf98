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

    /// (Σ f(i), Σ h(i)) in one pass: `lanes(i)` gives f and h at i..<i+8, `scalar(i)` at i; two
    /// accumulators of eight lanes for each (four would not fit in SSE's 16 registers).
    @inline(__always)
    static func sums(_ n: Int, lanes: (Int) -> (Lanes, Lanes), scalar: (Int) -> (Float, Float)) -> (Float, Float) {
        var a0 = Lanes(), a1 = Lanes(), b0 = Lanes(), b1 = Lanes()
        var i = 0
        while i + 16 <= n {
            let (f0, h0) = lanes(i), (f1, h1) = lanes(i + 8)
            a0 += f0; a1 += f1; b0 += h0; b1 += h1
            i += 16
        }
        if i + 8 <= n { let (f, h) = lanes(i); a0 += f; b0 += h; i += 8 }
        var s = (a0 + a1).sum(), t = (b0 + b1).sum()
        while i < n { let (f, h) = scalar(i); s += f; t += h; i += 1 }
        return (s, t)
    }

    /// Σ p[i].
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        sum(n, lanes: { load(p + $0) }, scalar: { p[$0] })
    }
}
