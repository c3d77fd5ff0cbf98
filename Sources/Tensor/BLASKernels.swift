// Which OpenBLAS kernel set atx runs on. OpenBLAS picks its kernels from a table of CPU models
// when the library loads; a CPU newer than the table (OpenBLAS 0.3.21 on Intel's Emerald Rapids)
// falls back to the SSE3 `Prescott` kernels, 2–3× slower. atx reads what the CPU supports
// instead and, when OpenBLAS's own pick is below that, asks for the best kernel set the CPU can
// run through `OPENBLAS_CORETYPE`. OpenBLAS reads that variable only when it loads, so the
// process re-executes itself with the variable set (`applyAtStartup`). A kernel set is used
// only after a child process has checked it against a plain reference on convolution-shaped
// GEMMs (a crash there cannot take a run down); the verdict is cached per CPU and OpenBLAS
// build. A user's own OPENBLAS_CORETYPE is always kept as it is.
import CBLAS
import Foundation

/// The instruction-set level a kernel set needs, or a CPU offers, in increasing order.
public enum SIMDTier: Int, Comparable, Sendable, CustomStringConvertible {
    case sse = 0, avx, avx2, avx512

    public static func < (a: SIMDTier, b: SIMDTier) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .sse: return "SSE"
        case .avx: return "AVX"
        case .avx2: return "AVX2+FMA"
        case .avx512: return "AVX-512"
        }
    }

    /// What a CPU with these `/proc/cpuinfo` flags (CPUID bits as the kernel reports them) can run.
    public init(cpuFlags flags: Set<String>) {
        if ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) { self = .avx512 }
        else if ["avx2", "fma"].allSatisfy(flags.contains) { self = .avx2 }
        else if flags.contains("avx") { self = .avx }
        else { self = .sse }
    }

    /// What an x86-64 OpenBLAS kernel set (as `openblas_get_corename` names it) uses; nil for
    /// names this table does not know (kept as they are).
    public init?(openBLASCore name: String) {
        switch name.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": self = .avx512
        case "haswell", "zen": self = .avx2
        case "sandybridge": self = .avx
        case "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "barcelona", "opteron", "opteron_sse3",
             "bobcat", "bulldozer", "piledriver", "steamroller", "excavator", "nano", "katmai", "coppermine", "northwood":
            self = .sse
        default: return nil
        }
    }

    /// The OpenBLAS kernel set atx asks for on a CPU of this tier (nil: nothing to ask for).
    /// AVX-512 CPUs get SkylakeX (its sgemm kernels are also Cooperlake's), AVX2 ones Haswell.
    public var openBLASCore: String? {
        switch self {
        case .avx512: return "SkylakeX"
        case .avx2: return "Haswell"
        case .avx: return "Sandybridge"
        case .sse: return nil
        }
    }
}

/// How the kernel set in use came about.
public enum KernelChoice: Equatable, Sendable {
    /// OPENBLAS_CORETYPE was in the environment before atx started: kept as it is.
    case user(String)
    /// OpenBLAS's own pick matches what the CPU supports (or no better set is known).
    case autodetected(String)
    /// OpenBLAS picked `autodetected`, below the CPU; atx asks for `core` instead.
    case upgrade(core: String, autodetected: String)

    /// The pure decision: from what the user set, what OpenBLAS picked without a setting, and
    /// what the CPU supports.
    public static func decide(userSetting: String?, autodetected: String, cpu: SIMDTier) -> KernelChoice {
        if let userSetting, !userSetting.isEmpty { return .user(userSetting) }
        guard let best = cpu.openBLASCore, let picked = SIMDTier(openBLASCore: autodetected), picked < cpu else {
            return .autodetected(autodetected)
        }
        return .upgrade(core: best, autodetected: autodetected)
    }
}

public enum BLASKernels {
    /// Environment variables the re-executed process reads: which set atx chose and what
    /// OpenBLAS had picked on its own (or "failed:<core>" when the check refused an upgrade).
    static let chosenVariable = "ATX_BLAS_CHOSEN"
    static let autodetectedVariable = "ATX_BLAS_AUTODETECTED"

    /// One line for `atx bench`, the head of `atx run` and the store: the kernel set in use and
    /// why, e.g. "SkylakeX (chosen by atx for this AVX-512 CPU; OpenBLAS 0.3.21 picked Prescott)".
    public static var description: String {
        let env = ProcessInfo.processInfo.environment
        let core = BLAS.coreName
        if let chosen = env[chosenVariable], let auto = env[autodetectedVariable] {
            if chosen.hasPrefix("failed:") {
                return "\(core) (OpenBLAS's pick; atx's check refused \(chosen.dropFirst(7)))"
            }
            return "\(core) (chosen by atx for this \(cpuTier) CPU; OpenBLAS \(BLAS.version) picked \(auto))"
        }
        if let user = env["OPENBLAS_CORETYPE"], !user.isEmpty {
            return "\(core) (OPENBLAS_CORETYPE=\(user) from the environment)"
        }
        return "\(core) (OpenBLAS \(BLAS.version) autodetected)"
    }

    /// The flags of the first CPU in /proc/cpuinfo.
    public static var cpuFlags: Set<String> {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let line = info.split(separator: "\n").first { $0.hasPrefix("flags") }
        return Set(line?.split(separator: ":", maxSplits: 1).last?.split(separator: " ").map(String.init) ?? [])
    }

    public static var cpuTier: SIMDTier { SIMDTier(cpuFlags: cpuFlags) }

    public static var cpuModel: String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return info.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
    }

    /// Call first thing in `main`. When the user has not set OPENBLAS_CORETYPE and OpenBLAS's
    /// own pick is below what the CPU supports, checks the better kernel set once (cached) and
    /// re-executes this program with it; returns only when nothing changes. `checkArguments`
    /// are the arguments that make this executable run `runCheck()` and exit.
    public static func applyAtStartup(checkArguments: [String]) {
        let env = ProcessInfo.processInfo.environment
        if env[chosenVariable] != nil { return }   // already decided (we are the re-executed process)
        // ATX_BLAS_ASSUME_PICK stands in for OpenBLAS's own pick, so that scripts/blas-selection-test
        // can exercise the upgrade on a CPU that OpenBLAS does know.
        let picked = env["ATX_BLAS_ASSUME_PICK"] ?? BLAS.coreName
        let choice = KernelChoice.decide(userSetting: env["OPENBLAS_CORETYPE"], autodetected: picked, cpu: cpuTier)
        guard case .upgrade(let core, let autodetected) = choice else { return }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let verdict = cachedVerdict(core: core) ?? {
            let v = check(core: core, executable: executable, arguments: checkArguments)
            storeVerdict(core: core, v)
            return v
        }()
        setenv(autodetectedVariable, autodetected, 1)
        guard verdict.ok else {
            FileHandle.standardError.write(Data("atx: warning: OpenBLAS picked its \(autodetected) kernels for this \(cpuTier) CPU; the better \(core) kernels failed atx's check (\(verdict.reason)), so atx stays on \(autodetected)\n".utf8))
            setenv(chosenVariable, "failed:\(core)", 1)
            return
        }
        setenv(chosenVariable, core, 1)
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv(executable, CommandLine.unsafeArgv)
        // execv returned: it failed. Carry on with OpenBLAS's pick.
        setenv(chosenVariable, "failed:\(core)", 1)
        unsetenv("OPENBLAS_CORETYPE")
    }

    public struct Verdict: Codable, Equatable, Sendable {
        public var ok: Bool
        public var reason: String
    }

    /// Runs the check in a child process started with OPENBLAS_CORETYPE=`core` (a kernel set that
    /// crashes or hangs fails the check instead of the run).
    static func check(core: String, executable: String, arguments: [String], timeout: TimeInterval = 120) -> Verdict {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = core
        environment[chosenVariable] = core   // the child must not select again
        environment[autodetectedVariable] = BLAS.coreName
        p.environment = environment
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        do { try p.run() } catch { return Verdict(ok: false, reason: "could not start the check: \(error)") }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { p.terminate(); return Verdict(ok: false, reason: "the check did not finish in \(Int(timeout)) s") }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if p.terminationReason == .uncaughtSignal { return Verdict(ok: false, reason: "the check crashed (signal \(p.terminationStatus))") }
        return Verdict(ok: p.terminationStatus == 0, reason: text.isEmpty ? "exit \(p.terminationStatus)" : text)
    }

    /// The check itself, run in the child: OpenBLAS must have loaded the `requested` kernels, and
    /// `cblas_sgemm` must match a plain float64 reference on the GEMM shapes of atx's
    /// convolutions (forward, input gradient, weight gradient; accumulation with beta = 1).
    /// Returns a one-line verdict.
    public static func runCheck(requested: String?) -> Verdict {
        if let requested, !requested.isEmpty, BLAS.coreName.lowercased() != requested.lowercased() {
            return Verdict(ok: false, reason: "OpenBLAS loaded \(BLAS.coreName) instead of \(requested)")
        }
        openblas_set_num_threads(1)
        // (m, n, k, transA, transB, beta): conv forward W·col, input gradient Wᵀ·dy, weight
        // gradient dy·colᵀ, Winograd-domain products, the classifier, odd edges.
        let shapes: [(Int, Int, Int, Bool, Bool, Float)] = [
            (16, 1024, 27, false, false, 0), (16, 1024, 144, false, false, 0), (32, 256, 288, false, false, 0),
            (64, 64, 576, false, false, 0), (128, 64, 1152, false, false, 0), (144, 1024, 16, true, false, 0),
            (576, 64, 64, true, false, 0), (16, 144, 1024, false, true, 0), (64, 576, 64, false, true, 1),
            (128, 10, 64, false, true, 0), (33, 17, 65, true, true, 1), (1, 1, 1, false, false, 0),
        ]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
        for (m, n, k, ta, tb, beta) in shapes {
            let a = (0..<(m * k)).map { _ in next() }, b = (0..<(k * n)).map { _ in next() }
            var c = (0..<(m * n)).map { _ in next() }
            let c0 = c
            let lda = ta ? m : k, ldb = tb ? k : n
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                            1, pa.baseAddress, Int32(lda), pb.baseAddress, Int32(ldb), beta, pc.baseAddress, Int32(n))
            } } }
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<n {
                    var s = Double(beta) * Double(c0[i * n + j]), scale = abs(s)
                    for p in 0..<k {
                        let x = Double(ta ? a[p * lda + i] : a[i * lda + p]) * Double(tb ? b[j * ldb + p] : b[p * ldb + j])
                        s += x
                        scale += abs(x)
                    }
                    worst = max(worst, abs(Double(c[i * n + j]) - s) / max(scale, 1e-30))
                }
            }
            guard worst <= 1e-5, c.allSatisfy(\.isFinite) else {
                return Verdict(ok: false, reason: String(format: "sgemm %d×%d×%d%@%@ off by %.1e (relative to Σ|terms|)", m, n, k,
                                                         ta ? " Aᵀ" : "", tb ? " Bᵀ" : "", worst))
            }
        }
        return Verdict(ok: true, reason: "\(BLAS.coreName): \(shapes.count) convolution-shaped sgemm cases match the float64 reference")
    }

    // MARK: - Cache

    static var cacheURL: URL { MachineCache.url("blas-kernels.json") }

    /// The verdict's key: the CPU (model and flags) and the OpenBLAS build, and the kernel set.
    static func cacheKey(core: String) -> String {
        "\(cpuModel) | \(cpuFlags.sorted().joined(separator: " ").hashValueStable) | \(BLAS.configuration) | \(core)"
    }

    static func cachedVerdict(core: String) -> Verdict? {
        guard let data = try? Data(contentsOf: cacheURL),
              let table = try? JSONDecoder().decode([String: Verdict].self, from: data) else { return nil }
        return table[cacheKey(core: core)]
    }

    static func storeVerdict(core: String, _ verdict: Verdict) {
        var table = (try? Data(contentsOf: cacheURL)).flatMap { try? JSONDecoder().decode([String: Verdict].self, from: $0) } ?? [:]
        table[cacheKey(core: core)] = verdict
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(table) else { return }
        try? FileManager.default.createDirectory(at: cacheURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? data.write(to: cacheURL, options: .atomic)
    }
}

/// Files atx keeps about the machine it runs on (kernel-set verdicts, measured throughput), in
/// $XDG_CACHE_HOME/atx (default ~/.cache/atx).
public enum MachineCache {
    public static func url(_ file: String) -> URL {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: env["HOME"] ?? NSTemporaryDirectory()).appendingPathComponent(".cache")
        return base.appendingPathComponent("atx").appendingPathComponent(file)
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes, in hex: stable across runs (unlike `hashValue`).
    var hashValueStable: String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }
}
