// The runner's live display: overall progress and ETA, one line per active run. On a terminal
// it redraws in place; otherwise it prints a line whenever a run starts, finishes an epoch or ends.
import Foundation
import Store
import Training

final class Display: @unchecked Sendable {
    let title: String
    let tty = isatty(STDOUT_FILENO) == 1
    var drawnLines = 0
    var lastStatus: [String: String] = [:]
    var lastEpoch: [String: Int] = [:]

    init(title: String) { self.title = title }

    func render(records: [String: RunRecord], grid: Grid, progress: [String: WorkerProgress], active: [String], eta: Double) {
        var counts: [RunStatus: Int] = [:]
        for r in records.values { counts[r.status, default: 0] += 1 }
        let header = "\(title): \(counts[.done] ?? 0)/\(grid.runs.count) runs done, \(active.count) running, "
            + "\(counts[.failed] ?? 0) failed, \(counts[.queued] ?? 0) queued — ETA \(Display.duration(eta))"
        var lines = [header]
        for key in active.sorted() {
            guard let run = grid.run(key) else { continue }
            let name = "\(key.prefix(8)) \(run.config.student) \(run.config.method.name) seed \(run.config.seed)"
            if let p = progress[key], let err = p.testError {
                lines.append(String(format: "  %@  epoch %d/%d done: test error %.2f%%, %.0f img/s", name, p.epoch, p.epochs, err, p.imagesPerSecond))
            } else if let p = progress[key] {
                lines.append(String(format: "  %@  epoch %d/%d batch %d/%d loss %.4f %.0f img/s", name, p.epoch, p.epochs, p.batch, p.batches, p.loss, p.imagesPerSecond))
            } else {
                lines.append("  \(name)  starting")
            }
        }
        if tty {
            var out = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
            for l in lines { out += "\r\u{1B}[K" + l + "\n" }
            out += "\u{1B}[J"
            FileHandle.standardOutput.write(out.data(using: .utf8)!)
            drawnLines = lines.count
            return
        }
        // Not a terminal: one line per event.
        for (key, r) in records.sorted(by: { $0.key < $1.key }) {
            let run = grid.run(key)
            let name = "\(key.prefix(8)) \(run?.config.student ?? r.student) \(r.method) seed \(r.seed)"
            if let p = progress[key], let err = p.testError, lastEpoch[key] != p.epoch {
                lastEpoch[key] = p.epoch
                print(String(format: "%@: epoch %d/%d test error %.2f%% (%.0f img/s)", name, p.epoch, p.epochs, err, p.imagesPerSecond))
            }
            let starting = active.contains(key) && [.queued, .interrupted, .failed].contains(r.status)
            let status = starting ? "starting" : r.status.rawValue
            if lastStatus[key] != nil, lastStatus[key] != status {
                var line = "\(name): \(status)"
                if r.status == .done, let e = r.finalTestError { line += String(format: " (test error %.2f%%)", e) }
                if r.status == .failed, let f = r.failure { line += " — \(f)" }
                print(line)
            }
            lastStatus[key] = status
        }
        fflush(nil)
    }

    func finish() { drawnLines = 0 }

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60)
    }
}

/// Estimates run times from the throughput the store has seen for the same model and method,
/// or from defaults measured on the 2-core development machine.
public struct Estimator {
    let measured: [String: Double]

    public init(store: Store) {
        var m: [String: [Double]] = [:]
        for r in (try? store.runs()) ?? [] {
            let ips = ((try? store.epochs(key: r.key)) ?? []).map(\.imagesPerSecond)
            if !ips.isEmpty { m["\(r.student) \(r.method)", default: []] += ips }
        }
        measured = m.mapValues { $0.sorted()[$0.count / 2] }
    }

    /// Training images per second of one cross-entropy run at 1 thread beside another such run
    /// (the default `--jobs 2 --threads 1`), release build, measured on the 2-core development
    /// machine on 2026-11-29 (`atx train --dataset synthetic --epochs 2 --threads 1`, two at a time).
    static let defaultThroughput: [String: Double] = [
        "wrn-10-1": 1198, "wrn-10-2": 455, "wrn-16-1": 638, "wrn-16-2": 226, "wrn-40-1": 230, "wrn-40-2": 78,
        "nin-thin": 265, "nin-thin-nobn": 205, "nin-wide": 70,
    ]

    func rate(_ model: String) -> Double { measured["\(model) ce"] ?? Estimator.defaultThroughput[model] ?? 50 }

    /// Training images per second of `config`: the store's median for the same student and method
    /// when it has one; else the student's rate, plus the frozen teacher's forward (about a third
    /// of its training step) for distillation; double backprop costs about 3× the student's step
    /// (min-l2), 6× (symmetry norm: two of them), plus the teacher's input gradient for grad-AT
    /// (measured for NIN-thin without BN: 71, 36 and 29 img/s against 205 for cross-entropy).
    public func throughput(_ config: RunConfig) -> Double {
        if let m = measured["\(config.student) \(config.method.name)"] { return m }
        let student = rate(config.student), teacher = config.teacher.map(rate) ?? student
        switch config.method {
        case .ce: return student
        case .at, .kd, .atkd, .factt: return 1 / (1 / student + 1 / (3 * teacher))
        case .minL2: return student / 3
        case .symmetry: return student / 6
        case .gradAT: return 1 / (3 / student + 1.5 / teacher)
        }
    }

    public static func images(_ config: RunConfig) -> (train: Int, test: Int) {
        let full: (train: Int, test: Int)
        switch config.dataset {
        case "cifar10": full = (50_000, 10_000)
        case "synthetic": full = (1_000, 200)
        default: full = (60_000, 10_000)
        }
        return (config.trainSubset ?? full.train, config.testSubset ?? full.test)
    }

    /// Seconds of one run from epoch `from` (0-based count done) to the end.
    public func seconds(_ config: RunConfig, epochsDone: Int = 0) -> Double {
        let (train, test) = Estimator.images(config)
        let perEpoch = Double(train) / throughput(config) + Double(test) / (3 * rate(config.student))
        return Double(config.epochs - epochsDone) * perEpoch
    }

    public func remainingSeconds(grid: Grid, records: [String: RunRecord], jobs: Int) -> Double {
        let total = grid.runs.reduce(0.0) { sum, run in
            guard let r = records[run.key], r.status != .done else { return sum }
            return sum + seconds(run.config, epochsDone: r.epochsDone)
        }
        return total / Double(max(jobs, 1))
    }
}
