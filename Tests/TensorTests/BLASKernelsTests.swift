import XCTest
@testable import Tensor

/// The kernel-set decision on a table of CPUs and OpenBLAS picks (no OpenBLAS involved).
final class BLASKernelsTests: XCTestCase {
    static let avx512: Set<String> = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
    static let avx2: Set<String> = ["sse4_2", "avx", "avx2", "fma"]

    func testTiersFromCPUFlags() {
        XCTAssertEqual(SIMDTier(cpuFlags: Self.avx512.union(["avx512_bf16", "avx512_vnni", "amx_tile"])), .avx512)
        XCTAssertEqual(SIMDTier(cpuFlags: Self.avx2), .avx2)
        // AVX-512 F alone (Knights Landing style, no BW/VL) is not what SkylakeX kernels need.
        XCTAssertEqual(SIMDTier(cpuFlags: Self.avx2.union(["avx512f", "avx512cd"])), .avx2)
        XCTAssertEqual(SIMDTier(cpuFlags: ["sse4_2", "avx"]), .avx)
        XCTAssertEqual(SIMDTier(cpuFlags: ["avx2"]), .sse, "AVX2 without FMA gets no AVX2 kernels")
        XCTAssertEqual(SIMDTier(cpuFlags: []), .sse)
    }

    func testDecisionTable() {
        // (what the user set, what OpenBLAS picked on its own, the CPU, the expected choice)
        let cases: [(String?, String, SIMDTier, KernelChoice, String)] = [
            // Emerald Rapids on OpenBLAS 0.3.21: a CPU its table does not know falls back to Prescott.
            (nil, "Prescott", .avx512, .upgrade(core: "SkylakeX", autodetected: "Prescott"), "unknown AVX-512 Intel CPU"),
            (nil, "Nehalem", .avx2, .upgrade(core: "Haswell", autodetected: "Nehalem"), "AVX2 CPU on an old table"),
            (nil, "Sandybridge", .avx512, .upgrade(core: "SkylakeX", autodetected: "Sandybridge"), "AVX-512 CPU seen as AVX"),
            (nil, "Zen", .avx512, .upgrade(core: "SkylakeX", autodetected: "Zen"), "Zen 4 on a table without AVX-512 for AMD"),
            (nil, "Cooperlake", .avx512, .autodetected("Cooperlake"), "OpenBLAS already on AVX-512 (Zen 5 here)"),
            (nil, "SkylakeX", .avx512, .autodetected("SkylakeX"), "already the best"),
            (nil, "Haswell", .avx2, .autodetected("Haswell"), "AVX2 CPU on AVX2 kernels"),
            (nil, "Zen", .avx2, .autodetected("Zen"), "Zen 2/3"),
            (nil, "Prescott", .sse, .autodetected("Prescott"), "an old CPU: nothing better"),
            (nil, "NewCoreName", .avx512, .autodetected("NewCoreName"), "a kernel name this table does not know is kept"),
            ("Haswell", "Haswell", .avx512, .user("Haswell"), "the user's setting is kept even below the CPU"),
            ("Prescott", "Prescott", .avx512, .user("Prescott"), "the user's setting is kept"),
            ("", "Prescott", .avx512, .upgrade(core: "SkylakeX", autodetected: "Prescott"), "an empty setting counts as unset"),
        ]
        for (user, picked, cpu, expected, what) in cases {
            XCTAssertEqual(KernelChoice.decide(userSetting: user, autodetected: picked, cpu: cpu), expected, what)
        }
    }

    func testEveryRequestedCoreIsOfItsTier() {
        for tier in [SIMDTier.avx, .avx2, .avx512] {
            let core = tier.openBLASCore!
            XCTAssertEqual(SIMDTier(openBLASCore: core), tier, core)
        }
        XCTAssertNil(SIMDTier.sse.openBLASCore)
    }

    /// The check run in this process (whatever kernel set it has) passes: sgemm is right here.
    func testCheckPassesOnTheKernelsInUse() {
        let verdict = BLASKernels.runCheck(requested: nil)
        XCTAssertTrue(verdict.ok, verdict.reason)
    }

    func testStableHashIsStable() {
        XCTAssertEqual("abc".hashValueStable, "e71fa2190541574b")
        XCTAssertNotEqual("abc".hashValueStable, "abd".hashValueStable)
    }
}
