// Text for `atx plan`, the head of `atx run`, and `atx status`.
import Data
import Foundation
import Store
import Training

public enum Planner {
    /// Runs to do, done, and the estimated time at `jobs` parallel runs.
    /// `threads` is each run's thread count (the estimate's throughput is measured at it).
    public static func describe(_ grid: Grid, store: Store, jobs: Int, threads: Int = 1, listRuns: Bool = false) throws -> String {
        let estimator = Estimator(store: store, grid: grid, jobs: max(jobs, 1), threads: threads)
        var done = 0, failed = 0, todo: [(PlannedRun, Int)] = []
        for run in grid.runs {
            let r = try store.run(key: run.key)
            switch r?.status {
            case .done: done += 1
            case .failed: failed += 1; todo.append((run, r?.epochsDone ?? 0))
            case nil, .queued, .running, .interrupted: todo.append((run, r?.epochsDone ?? 0))
            }
        }
        // The runner's schedule simulated: the longest chains first, a teacher's students of one
        // seed in one cohort, sharing the teacher's forward.
        let (seconds, remaining) = estimator.simulate(grid, todo: todo.map { (run: $0.0, epochsDone: $0.1) }, jobs: max(jobs, 1))
        // On Slurm every run is an array task of its own and a student starts when its teacher is
        // done (`grid.runs` lists teachers first): the longest such chain bounds the wall time.
        var alone: [String: Double] = [:]
        for (run, epochsDone) in todo { alone[run.key] = estimator.seconds(run.config, epochsDone: epochsDone) }
        let compute = alone.values.reduce(0, +)
        var finished: [String: Double] = [:]
        for run in grid.runs { finished[run.key] = (run.teacherKey.flatMap { finished[$0] } ?? 0) + (alone[run.key] ?? 0) }
        let chain = finished.values.max() ?? 0
        let s = grid.settings
        var out = """
        \(grid.spec.name) [profile \(grid.profile)] on \(grid.datasets.map(\.rawValue).joined(separator: "+")): \(grid.cells.count) cells (\(grid.spec.rows.count) rows × \
        \(grid.spec.columns.count) columns × \(grid.seeds.count) seeds) served by \(grid.runs.count) unique runs
          \(s.epochs) epochs, batch \(s.batchSize), train subset \(s.trainSubset.map(String.init) ?? "all"), \
        test subset \(s.testSubset.map(String.init) ?? "all"), milestones \(RunConfig.scaledMilestones(epochs: s.epochs, fractions: s.milestones))
          done \(done), to run \(todo.count)\(failed > 0 ? " (\(failed) failed before)" : ""); estimated \(Display.duration(seconds)) at \(jobs) parallel runs \
        of \(threads) thread\(threads == 1 ? "" : "s")
          on Slurm (`atx submit`, one array task per run, a student after its teacher): about \(Display.duration(chain)) \
        with a node like this one per task, \(Display.duration(compute)) of compute in all
          throughput: \(estimator.sourceSummary.isEmpty ? "nothing measured" : estimator.sourceSummary)\
        \(estimator.sideBySide.map { String(format: "; %d runs side by side each at %.0f%% of its speed alone (measured on this machine)", jobs, 100 * $0) } ?? "")
        """
        if listRuns {
            for run in grid.runs {
                let r = try store.run(key: run.key)
                let status = r?.status.rawValue ?? "new"
                out += "\n  \(run.key)  \(status.padding(toLength: 11, withPad: " ", startingAt: 0)) \(run.config.student) ← \(run.config.teacher ?? "—")  \(run.config.method.name)  seed \(run.config.seed)"
                    + (r?.status == .done ? String(format: "  %.2f%%", r?.finalTestError ?? 0) : String(format: "  ~%@", Display.duration(remaining[run.key] ?? estimator.seconds(run.config, epochsDone: r?.epochsDone ?? 0))))
            }
        }
        return out
    }

    /// Per status the grid's runs, the failures' reasons, and whether the data at `locations`
    /// differs from what its done runs read (then `atx run` trains them again under new keys).
    public static func status(grid: String, store: Store, locations: DataLocations = .fromEnvironment()) throws -> String {
        let counts = try store.statusCounts(grid: grid)
        var out = "\(grid): " + RunStatus.allCases.map { "\(counts[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
        let runs = try store.runs(grid: grid)
        var now: [String: Result<String, Error>] = [:]
        for dataset in Set(runs.filter { $0.status == .done && $0.dataFingerprint != nil }.map(\.dataset)).sorted() {
            guard let id = DatasetID(rawValue: dataset) else { continue }
            now[dataset] = Result { try DataFingerprint.of(id, locations: locations) }
            let done = runs.filter { $0.status == .done && $0.dataset == dataset }
            switch now[dataset] {
            case .success(let fingerprint)?:
                let other = done.filter { $0.dataFingerprint.map { $0 != fingerprint } ?? false }
                if !other.isEmpty {
                    let recorded = Set(other.compactMap(\.dataFingerprint)).sorted().map { String($0.prefix(12)) + "…" }
                    out += "\n  data: \(other.count) of \(done.count) done runs read other \(dataset) data than the data at hand "
                        + "(recorded \(recorded.joined(separator: ", ")), now \(fingerprint.prefix(12))…): `atx run` trains them again under new keys"
                }
            case .failure(let error)?:
                out += "\n  data: cannot read the \(dataset) data at hand to compare with what \(done.count) done runs read: \(error)"
            case nil: break
            }
        }
        for r in runs where r.status == .failed || r.status == .running || r.status == .interrupted {
            out += "\n  \(r.key)  \(r.status.rawValue)  \(r.student) \(r.method) seed \(r.seed)"
            if r.status == .running { out += "  (\(r.host ?? "?") pid \(r.pid ?? 0), epoch \(r.epochsDone)/\(r.epochsTotal))" }
            if let f = r.failure, r.status == .failed { out += ": \(f)" }
        }
        return out
    }
}
