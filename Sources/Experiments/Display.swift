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
            FileHandle.standardOutput.write(Data(out.utf8))
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
