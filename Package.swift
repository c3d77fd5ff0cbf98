// swift-tools-version:6.0
import PackageDescription

// Layering (a target imports only targets listed before it):
//   CBLAS, CZlib (system libraries), CJPEG (libjpeg-turbo behind a C shim), CKernels (C SIMD
//   kernels), CThreads (the worker threads) → Tensor → Autograd → NN → Data → Training → Bench → Store → Report → Experiments →
//   atx (the command line: parsing and printing only).
// Data needs only Tensor (with zlib and CJPEG); Store needs only GRDB; Report needs only Store (and
// zlib) and knows no dataset, table or model by name; Bench (every benchmark figure, the machine
// description, its child processes) sits on Training.
let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "atx",
    platforms: [.macOS(.v13)],
    products: [.executable(name: "atx", targets: ["atx"])],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // Convolution kernels in C, each compiled for AVX-512, AVX2 + FMA and portably, picked at run
        // time (cpuid): Swift here targets baseline x86-64. Optimised in debug builds too (tests).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        // The worker threads of the parallel loops (pthreads and C11 atomics).
        .target(name: "CThreads", cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "Tensor", dependencies: ["CBLAS", "CKernels", "CThreads"], swiftSettings: optimize),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Autograd", dependencies: ["Tensor"], swiftSettings: optimize),
        .target(name: "NN", dependencies: ["Autograd", "Tensor"], swiftSettings: optimize),
        // libjpeg-turbo (Debian's libjpeg62-turbo-dev) behind setjmp-based error handling, which Swift cannot do.
        .target(name: "CJPEG", cSettings: [.unsafeFlags(["-O2"])], linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "Data", dependencies: ["Tensor", "CZlib", "CJPEG"], swiftSettings: optimize),
        .target(name: "Training", dependencies: ["NN", "Data", "Autograd", "Tensor"], swiftSettings: optimize),
        .target(name: "Bench", dependencies: ["Training", "NN", "Data", "Autograd", "Tensor", "CBLAS"], swiftSettings: optimize),
        .target(name: "Store", dependencies: [.product(name: "GRDB", package: "GRDB.swift")], swiftSettings: optimize),
        .target(name: "Report", dependencies: ["Store", "CZlib"], swiftSettings: optimize),
        .target(name: "Experiments", dependencies: ["Bench", "Training", "Store", "Report", "NN", "Data", "Autograd", "Tensor", "Yams"], swiftSettings: optimize),
        .executableTarget(name: "atx", dependencies: [
            "Tensor", "Autograd", "NN", "Data", "Training", "Bench", "Store", "Report", "Experiments",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: optimize),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd", "Tensor"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Autograd", "Tensor", "TestSupport"]),
        .testTarget(name: "DataTests", dependencies: ["Data", "Tensor", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "NN", "Data", "Autograd", "Tensor", "TestSupport"]),
        .testTarget(name: "BenchTests", dependencies: ["Bench"]),
        .testTarget(name: "StoreTests", dependencies: ["Store"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Store", "Experiments", "Training", "Data", "NN"], exclude: ["Golden"]),
        .testTarget(name: "CLITests", dependencies: ["atx", "Data", "Training",
                                                     .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Bench", "Store", "Training", "Data", "NN", "Tensor"]),
    ]
)
