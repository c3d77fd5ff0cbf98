// Direct (loop-by-loop, Double) implementations that the fast kernels must agree with.
import Tensor

enum Naive {
    static func conv2d(_ x: Tensor, _ w: Tensor, stride s: Int, padding p: Int) -> [Double] {
        let g = ConvGeometry(input: x.shape, weight: w.shape, stride: s, padding: p)
        let xd = x.data, wd = w.data   // flat reads: Tensor's subscript is slow in debug builds
        var y = [Double](repeating: 0, count: g.outputShape.product)
        for n in 0..<g.n { for o in 0..<g.o { for oy in 0..<g.oh { for ox in 0..<g.ow {
            var acc = 0.0
            for c in 0..<g.c { for ki in 0..<g.kh { for kj in 0..<g.kw {
                let iy = oy * s - p + ki, ix = ox * s - p + kj
                if iy < 0 || iy >= g.h || ix < 0 || ix >= g.w { continue }
                acc += Double(xd[((n * g.c + c) * g.h + iy) * g.w + ix]) * Double(wd[((o * g.c + c) * g.kh + ki) * g.kw + kj])
            } } }
            y[((n * g.o + o) * g.oh + oy) * g.ow + ox] = acc
        } } } }
        return y
    }

    /// (dx, dw) of ⟨conv2d(x, w), dy⟩ by direct accumulation.
    static func conv2dBackward(_ dy: Tensor, _ x: Tensor, _ w: Tensor, stride s: Int, padding p: Int) -> ([Double], [Double]) {
        let g = ConvGeometry(input: x.shape, weight: w.shape, stride: s, padding: p)
        let xd = x.data, wd = w.data, dyd = dy.data
        var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
        for n in 0..<g.n { for o in 0..<g.o { for oy in 0..<g.oh { for ox in 0..<g.ow {
            let gy = Double(dyd[((n * g.o + o) * g.oh + oy) * g.ow + ox])
            for c in 0..<g.c { for ki in 0..<g.kh { for kj in 0..<g.kw {
                let iy = oy * s - p + ki, ix = ox * s - p + kj
                if iy < 0 || iy >= g.h || ix < 0 || ix >= g.w { continue }
                let xi = ((n * g.c + c) * g.h + iy) * g.w + ix, wi = ((o * g.c + c) * g.kh + ki) * g.kw + kj
                dx[xi] += gy * Double(wd[wi])
                dw[wi] += gy * Double(xd[xi])
            } } }
        } } } }
        return (dx, dw)
    }

    /// Batch norm in training mode: y, batch mean, biased and unbiased variance per channel.
    static func batchNormTrain(_ x: Tensor, gamma: [Float], beta: [Float], eps: Double)
        -> (y: [Double], mean: [Double], variance: [Double], unbiased: [Double]) {
        let n = x.shape[0], c = x.shape[1], l = x.count / (n * c)
        var y = [Double](repeating: 0, count: x.count)
        var means = [Double](), vars = [Double](), unb = [Double]()
        for ch in 0..<c {
            var vals = [Double]()
            for b in 0..<n { for i in 0..<l { vals.append(Double(x.data[(b * c + ch) * l + i])) } }
            let mu = vals.reduce(0, +) / Double(vals.count)
            let v = vals.map { ($0 - mu) * ($0 - mu) }.reduce(0, +)
            means.append(mu); vars.append(v / Double(vals.count)); unb.append(v / Double(vals.count - 1))
            for b in 0..<n { for i in 0..<l {
                let k = (b * c + ch) * l + i
                y[k] = (Double(x.data[k]) - mu) / (v / Double(vals.count) + eps).squareRoot() * Double(gamma[ch]) + Double(beta[ch])
            } }
        }
        return (y, means, vars, unb)
    }
}

func maxAbsDiff(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "compare: \(a.count) vs \(b.count) elements")
    return zip(a, b).map { Swift.abs(Double($0) - $1) }.max() ?? 0
}

func maxAbs(_ b: [Double]) -> Double { b.map { Swift.abs($0) }.max() ?? 0 }
