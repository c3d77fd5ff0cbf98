// The convolution algorithm of each shape, measured on the machine at hand. Which of im2col +
// GEMM, Winograd F(2×2), Winograd F(4×4) and the direct kernels is fastest depends on the
// channels, the image size, the batch, the thread count and the CPU; no table written on one
// machine holds on another. So, when a run turns tuning on, the first convolution of a shape
// times every algorithm that can compute it (on random data of that shape, at the run's thread
// count) and keeps the fastest, for the forward and the weight gradient separately.
//
// Choices are cached per CPU (model, flags), OpenBLAS build and kernel set, and SIMD level in
// $XDG_CACHE_HOME/atx/conv-algorithms.json (default ~/.cache/atx), like the OpenBLAS verdict
// (BLASKernels.swift). A choice, once made in a process, never changes; the cache file is read
// and written under an exclusive lock, so processes started together (a grid's workers) wait
// for one measurement and all use it, and a run resumed on the same machine takes the same
// algorithms (results then stay bit-identical). Entries written by another build of atx (say,
// one with an algorithm this one lacks, on a shared home directory) are kept as they are.
// Without tuning (tests, library users) the kernels use `ConvGeometry.defaultAlgorithm(for:)`,
// which depends on nothing measured.
import CKernels
import Foundation

public enum ConvTuning {
    /// Whether shapes are measured (and choices cached). Off unless a run turns it on.
    nonisolated(unsafe) public static var isEnabled = false

    /// One shape's measurement: the choice and each candidate's best time in seconds.
    public struct Entry: Codable, Equatable, Sendable {
        public var algorithm: ConvAlgorithm
        public var seconds: [String: Double]
    }

    nonisolated(unsafe) private static var decided: [String: Entry] = [:]
    private static let lock = NSLock()

    /// The measured choice for `pass` of `g` at the current thread count (measuring it now if
    /// neither this process nor the cache has it); nil when tuning is off or only one algorithm applies.
    static func choice(_ g: ConvGeometry, _ pass: ConvPass) -> ConvAlgorithm? {
        guard isEnabled else { return nil }
        let candidates = g.candidates(pass)
        guard candidates.count > 1 else { return nil }
        return entry(g, pass, candidates: candidates).algorithm
    }

    /// The entry for `pass` of `g` (measured if needed), whether or not tuning is on: for `atx bench`.
    public static func measured(_ g: ConvGeometry, _ pass: ConvPass) -> Entry {
        entry(g, pass, candidates: g.candidates(pass))
    }

    static func entry(_ g: ConvGeometry, _ pass: ConvPass, candidates: [ConvAlgorithm]) -> Entry {
        let key = cacheKey(g, pass)
        lock.lock()
        defer { lock.unlock() }
        if let e = decided[key] { return e }
        let e = withCache { table -> Entry in
            // A cached choice counts only if it was made among the same candidates (a new
            // algorithm in this build is measured again).
            if let cached = table[key], Set(cached.seconds.keys) == Set(candidates.map(\.rawValue)) { return cached }
            let fresh = measure(g, pass, candidates)
            table[key] = fresh
            return fresh
        }
        decided[key] = e
        return e
    }

    /// Forgets this process's choices (tests: a fresh process reads them from the cache).
    static func forgetForTests() {
        lock.lock()
        decided = [:]
        lock.unlock()
    }

    /// Times each candidate (one warm-up, then the best of five rounds, candidates interleaved
    /// within a round so drift on a shared machine hits them alike) on random data of the shape.
    static func measure(_ g: ConvGeometry, _ pass: ConvPass, _ candidates: [ConvAlgorithm]) -> Entry {
        // Uniform data: the kernels' time does not depend on the values, and Box–Muller's log and
        // cos over a wide layer's batch took longer than the timing itself.
        var rng = RNG(seed: 1)
        let x = Tensor.uniform(g.inputShape, low: -1, high: 1, rng: &rng), w = Tensor.uniform(g.weightShape, low: -1, high: 1, rng: &rng)
        let dy = Tensor.uniform(g.outputShape, low: -1, high: 1, rng: &rng)
        func run(_ a: ConvAlgorithm) {
            switch pass {
            case .forward: _ = Tensor.conv2d(x, w, stride: g.stride, padding: g.padding, algorithm: a)
            case .weightGradient:
                _ = Tensor.conv2dBackwardWeight(dy, x, weightShape: g.weightShape, stride: g.stride, padding: g.padding, algorithm: a)
            }
        }
        for a in candidates { run(a) }
        var best = [Double](repeating: .infinity, count: candidates.count)
        for _ in 0..<5 {
            for (i, a) in candidates.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                run(a)
                best[i] = min(best[i], Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
            }
        }
        let winner = best.indices.min { best[$0] < best[$1] }!
        return Entry(algorithm: candidates[winner],
                     seconds: Dictionary(uniqueKeysWithValues: zip(candidates.map(\.rawValue), best)))
    }

    /// The kernels' revision, the machine (CPU model and flags, OpenBLAS build and kernel set,
    /// SIMD level) and the shape, pass and thread count.
    static func cacheKey(_ g: ConvGeometry, _ pass: ConvPass) -> String {
        "\(machineKey) | \(pass.rawValue) x\(g.n)×\(g.c)×\(g.h)×\(g.w) w\(g.o)×\(g.kh)×\(g.kw) s\(g.stride) p\(g.padding) | \(Threads.count) threads"
    }

    static let machineKey: String = {
        "kernels r\(kernelRevision) | \(BLASKernels.cpuModel) | \(BLASKernels.cpuFlags.sorted().joined(separator: " ").hashValueStable) | \(BLAS.configuration) | \(BLAS.coreName) | \(SIMD.name(SIMD.level))"
    }()

    /// Raised whenever a convolution kernel changes how fast it is, so that choices measured
    /// with the old kernels are measured again.
    public static let kernelRevision = 5

    static var cacheURL: URL { MachineCache.url("conv-algorithms.json") }

    /// An entry as stored: the algorithm by name, so that an entry written by another build
    /// (an algorithm this one does not know) is kept, not a reason to drop the whole table.
    struct StoredEntry: Codable, Equatable {
        var algorithm: String
        var seconds: [String: Double]
    }

    /// Runs `body` on the cached table under an exclusive lock (flock) on a lock file beside it,
    /// writing the table back (atomically) if `body` changed it. `body` sees the entries this
    /// build can use; the others stay in the file as they were. A file that is not such a table
    /// at all is kept beside the new one as conv-algorithms.json.unreadable. Without a usable
    /// cache directory `body` gets an empty table and nothing is kept.
    static func withCache<T>(_ body: (inout [String: Entry]) -> T) -> T {
        let url = cacheURL
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let fd = open(url.path + ".lock", O_CREAT | O_RDWR, 0o644)
        if fd >= 0 { flock(fd, LOCK_EX) }
        defer { if fd >= 0 { flock(fd, LOCK_UN); close(fd) } }
        var stored: [String: StoredEntry] = [:]
        if let data = try? Data(contentsOf: url) {
            if let decoded = try? JSONDecoder().decode([String: StoredEntry].self, from: data) {
                stored = decoded
            } else {
                try? FileManager.default.removeItem(at: url.appendingPathExtension("unreadable"))
                try? FileManager.default.moveItem(at: url, to: url.appendingPathExtension("unreadable"))
            }
        }
        var table = stored.compactMapValues { e in ConvAlgorithm(rawValue: e.algorithm).map { Entry(algorithm: $0, seconds: e.seconds) } }
        let before = table
        let result = body(&table)
        if table != before {
            for (key, e) in table where before[key] != e { stored[key] = StoredEntry(algorithm: e.algorithm.rawValue, seconds: e.seconds) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            if let data = try? encoder.encode(stored) { try? data.write(to: url, options: .atomic) }
        }
        return result
    }
}

/// The instruction-set level of the C kernels (CKernels), picked at run time from cpuid.
public enum SIMD {
    /// 0 portable (SSE2), 1 AVX2 + FMA, 2 AVX-512.
    public static var level: Int { Int(atx_simd_level()) }
    /// The best level this CPU supports.
    public static var supported: Int { Int(atx_simd_supported()) }
    /// Uses `level` (clamped to what the CPU supports) from now on: for tests of every level.
    public static func set(_ level: Int) { atx_simd_set_level(Int32(level)) }
    public static func name(_ level: Int) -> String { ["portable (SSE2)", "AVX2+FMA", "AVX-512"][max(0, min(2, level))] }

    /// Floating-point operations of `iterations` rounds of 12 independent vector FMA chains at
    /// `level` (the caller times it): the peak loop of `atx bench`.
    public static func fmaLoop(level: Int, iterations: Int) -> Double { atx_fma_loop(Int32(level), iterations) }
}
