// atx: the command-line shell. Parsing and calling the libraries, nothing else.
import ArgumentParser
import Foundation
import Tensor


struct ATX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atx",
        abstract: "Reproduces the experiments of 'Paying More Attention to Attention' (Zagoruyko & Komodakis, ICLR 2017): CIFAR-10, CUB-200-2011, MIT Indoor-67, ImageNet.",
        version: atxVersion,
        subcommands: [Run.self, Plan.self, Status.self, Submit.self, Merge.self, Table.self, Train.self, Attention.self, BenchCommand.self, WorkerCommand.self,
                      SmokeInputs.self,
                      BLASCheck.self])
}

/// The child process of the kernel-set check (`BLASKernels.applyAtStartup`).
struct BLASCheck: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "blas-check", abstract: "Check the OpenBLAS kernel set in use against a plain reference.",
                                                    shouldDisplay: false)
    func run() throws {
        let verdict = BLASKernels.runCheck(requested: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"])
        print(verdict.reason)
        if !verdict.ok { throw ExitCode(1) }
    }
}

/// Options every command that computes shares: the one place the thread count is set.
struct ThreadOptions: ParsableArguments {
    @Option(help: "BLAS and kernel threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }
    func apply() { Threads.set(threads) }
}

BLASKernels.applyAtStartup(checkArguments: ["blas-check"])
// Each convolution shape's algorithm measured on this machine once and cached (ConvTuning);
// ATX_CONV_TUNING=off keeps the fixed default rule instead.
ConvTuning.isEnabled = ProcessInfo.processInfo.environment["ATX_CONV_TUNING"] != "off"
ATX.main()
