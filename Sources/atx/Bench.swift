import ArgumentParser
import Foundation
import Tensor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convolution kernel GFLOPS next to a bare cblas_sgemm of the same shape (WRN-16-1, 32×32).")

    @Option(help: "Batch size.") var batch = 128
    @Option(help: "Comma-separated thread counts to measure.") var threads = "1,2"
    @Option(help: "Timed repetitions per figure (median reported).") var reps = 5

    func run() throws {
        let counts = threads.split(separator: ",").compactMap { Int($0) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--threads: expected comma-separated positive integers, got '\(threads)'")
        }
        print("Convolutions of WRN-16-1, batch \(batch), 32×32 input; GFLOPS of our kernel / bare sgemm of the same GEMM (ratio)")
        print("shape".padding(toLength: 34, withPad: " ", startingAt: 0) + " thr   forward              backward-input       backward-weight")
        for t in counts {
            for c in ConvBenchCase.wrn(batch: batch) {
                let r = ConvBenchmark.run(c, threads: t, reps: reps)
                func cell(_ ours: Double, _ bare: Double) -> String {
                    String(format: "%6.1f/%6.1f (%.2f)", ours, bare, ours / bare)
                }
                print(r.name.padding(toLength: 34, withPad: " ", startingAt: 0) + String(format: " %3d ", t)
                      + cell(r.forward, r.sgemmForward) + "  " + cell(r.backwardInput, r.sgemmBackwardInput)
                      + "  " + cell(r.backwardWeight, r.sgemmBackwardWeight))
            }
        }
    }
}
