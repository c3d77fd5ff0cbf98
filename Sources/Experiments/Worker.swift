// A worker runs runs of the store in its own process: it claims them, trains them (resuming each
// from its run directory's checkpoint; the students of one teacher and seed in one cohort),
// records every epoch idempotently, and marks each run done or failed. Progress goes to stdout
// as JSON lines for the runner's live display.
import Data
import Dispatch
import Foundation
import NN
import Store
import Tensor
import Training

public enum WorkerExit: Int32 {
    case done = 0, failed = 1, notClaimed = 3, interrupted = 130
}

/// One progress line of a worker. A loss that is not finite is written as `null` (JSON has no
/// NaN) and read back as NaN.
public struct WorkerProgress: Codable, Sendable {
    public var key: String
    public var epoch: Int, epochs: Int
    public var batch: Int, batches: Int
    public var loss: Double
    public var imagesPerSecond: Double
    /// Set on the line that ends an epoch.
    public var testError: Double?

    public init(key: String, epoch: Int, epochs: Int, batch: Int, batches: Int, loss: Double, imagesPerSecond: Double,
                testError: Double? = nil) {
        self.key = key; self.epoch = epoch; self.epochs = epochs; self.batch = batch; self.batches = batches
        self.loss = loss; self.imagesPerSecond = imagesPerSecond; self.testError = testError
    }

    enum CodingKeys: String, CodingKey { case key, epoch, epochs, batch, batches, loss, imagesPerSecond, testError }

    public init(from decoder: Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        key = try c.decode(String.self, forKey: .key)
        epoch = try c.decode(Int.self, forKey: .epoch); epochs = try c.decode(Int.self, forKey: .epochs)
        batch = try c.decode(Int.self, forKey: .batch); batches = try c.decode(Int.self, forKey: .batches)
        loss = try c.decodeNonFinite(.loss); imagesPerSecond = try c.decodeNonFinite(.imagesPerSecond)
        testError = try c.decodeIfPresent(Double.self, forKey: .testError)
    }

    public func encode(to encoder: Swift.Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(key, forKey: .key)
        try c.encode(epoch, forKey: .epoch); try c.encode(epochs, forKey: .epochs)
        try c.encode(batch, forKey: .batch); try c.encode(batches, forKey: .batches)
        try c.encodeNonFinite(loss, forKey: .loss); try c.encodeNonFinite(imagesPerSecond, forKey: .imagesPerSecond)
        if let testError { try c.encodeNonFinite(testError, forKey: .testError) }
    }
}

public enum Worker {
    /// The identity JSON stored for a run holds its configuration under "config".
    struct Identity: Decodable { var config: RunConfig }

    public static func decodeConfig(_ json: String) throws -> RunConfig {
        try JSONDecoder().decode(Identity.self, from: Data(json.utf8)).config
    }

    /// Runs `keys` to completion in this process: the runs that share a teacher and their batches
    /// (`Cohorts`) train in one cohort, reading each batch and running the teacher's forward once;
    /// any others one after another. Returns how the process should exit: done when every run it
    /// claimed is done, failed when one failed, not claimed when it claimed none (another process
    /// trains them, or they are done).
    /// - Parameter teacherCheckpoint: the teacher's weights, when not from the teacher's record in
    ///   `store` (a Slurm task's shard holds only a stub of its teacher).
    /// - Parameter owner: the results database the run's checkpoints belong to (a Slurm task's is
    ///   the main database, not its shard); nil: `store`.
    public static func execute(store: Store, keys: [String], runsDirectory: String, threads: Int, gitCommit: String?,
                               teacherCheckpoint: String? = nil, owner: String? = nil,
                               emit: @escaping (WorkerProgress) -> Void) -> WorkerExit {
        let pid = Int(ProcessInfo.processInfo.processIdentifier)
        var claimed: [String] = []
        for key in keys {
            do {
                if try store.claim(key: key, host: Host.name, pid: pid, threads: threads, gitCommit: gitCommit,
                                   blasKernels: BLASKernels.description, retryFailed: true, isOwnerAlive: Host.isAlive) {
                    claimed.append(key)
                }
            } catch {
                FileHandle.standardError.write(Data("atx worker: \(error)\n".utf8))
                for k in claimed { try? store.markInterrupted(key: k) }
                return .failed
            }
        }
        guard !claimed.isEmpty else { return .notClaimed }
        installTerminationHandler(store: store, keys: claimed)
        var failed = false
        func fail(_ key: String, _ error: Error) {
            failed = true
            try? store.fail(key: key, message: "\(error)")
            FileHandle.standardError.write(Data("atx worker \(key): \(error)\n".utf8))
        }
        var teachers: [String: Model] = [:]   // by teacher run key, loaded once
        var data: [RunConfig: TrainingData] = [:]   // by `lockstepConfig`, opened once
        var members: [(key: String, trainer: Trainer, teacherKey: String?)] = []
        for key in claimed {
            do {
                guard let record = try store.run(key: key) else { throw StoreError.unknownRun(key: key) }
                let config = try decodeConfig(record.configJSON)
                // The data must still be what the run was planned with (it may change between plan and run).
                if let planned = record.dataFingerprint {
                    let now = try DataFingerprint.of(config.dataset)
                    guard now == planned else { throw WorkerError.dataChanged(dataset: config.dataset, planned: planned, now: now) }
                }
                var teacher: Model?
                if let teacherKey = record.teacherKey {
                    if let loaded = teachers[teacherKey] {
                        teacher = loaded
                    } else {
                        let path: String
                        if let teacherCheckpoint {
                            path = teacherCheckpoint
                        } else {
                            guard let t = try store.run(key: teacherKey), t.status == .done, let p = t.checkpointPath else {
                                throw WorkerError.teacherNotDone(teacherKey)
                            }
                            path = p
                        }
                        teacher = try Model.trained(at: path, expected: config.teacher, role: "teacher")
                        teachers[teacherKey] = teacher
                    }
                }
                let split = try data[config.lockstepConfig] ?? config.openData()
                data[config.lockstepConfig] = split
                let directory = URL(fileURLWithPath: runsDirectory).appendingPathComponent(key)
                // An earlier attempt recorded here may have left a checkpoint that names no database (an atx before v5).
                let checkpointOwner = CheckpointOwner.database(try owner ?? store.identity(), adoptUnnamed: record.epochsDone > 0)
                let trainer = try Trainer(config: config, data: split, teacher: teacher, directory: directory, owner: checkpointOwner,
                                          observer: observer(store: store, key: key, epochs: config.epochs, emit: emit))
                if config.epochs == 0 {   // pretrained weights, evaluated only
                    let result = try trainer.evaluateOnly()
                    try store.finish(key: key, finalTestError: result.error, bestTestError: result.error, wallSeconds: result.seconds,
                                     checkpointPath: directory.appendingPathComponent(Trainer.modelName).path,
                                     finalTestTop5Error: result.top5Error)
                    continue
                }
                for r in trainer.curves { try store.recordEpoch(EpochRow(r, key: key)) }   // epochs a crash left unrecorded
                members.append((key, trainer, record.teacherKey))
            } catch {
                fail(key, error)
            }
        }
        let cohorts = Cohorts.group(Array(members.indices)) { Cohorts.key(members[$0].trainer.config, teacherKey: members[$0].teacherKey) }
        for cohort in cohorts {
            let outcomes: [Result<[EpochRecord], Error>]
            do {
                outcomes = try Cohort(cohort.map { members[$0].trainer }).run()
            } catch {
                for i in cohort { fail(members[i].key, error) }
                continue
            }
            for (i, outcome) in zip(cohort, outcomes) {
                let key = members[i].key
                do {
                    let curves = try outcome.get()
                    for r in curves { try store.recordEpoch(EpochRow(r, key: key)) }
                    try store.finish(key: key, finalTestError: curves.last!.testError, bestTestError: curves.map(\.testError).min()!,
                                     wallSeconds: curves.reduce(0) { $0 + $1.seconds },
                                     checkpointPath: URL(fileURLWithPath: runsDirectory).appendingPathComponent(key)
                                        .appendingPathComponent(Trainer.modelName).path,
                                     finalTestTop5Error: curves.last?.testTop5Error)
                } catch {
                    fail(key, error)
                }
            }
        }
        return failed ? .failed : .done
    }

    /// The observer of run `key`'s trainer: progress lines (at most two a second, and each epoch's
    /// end), a heartbeat every 10 s, and every epoch recorded before the next one starts (a crash in
    /// between is repaired on resume).
    static func observer(store: Store, key: String, epochs: Int, emit: @escaping (WorkerProgress) -> Void) -> (TrainingEvent) -> Void {
        var lastBeat = Date(), lastEmit = Date.distantPast
        return { event in
            switch event {
            case .started: break
            case .batch(let epoch, let batch, let batches, let loss, let ips):
                if Date().timeIntervalSince(lastEmit) > 0.5 || batch == batches {
                    lastEmit = Date()
                    emit(WorkerProgress(key: key, epoch: epoch, epochs: epochs, batch: batch, batches: batches, loss: loss, imagesPerSecond: ips))
                }
                if Date().timeIntervalSince(lastBeat) > 10 { lastBeat = Date(); try? store.heartbeat(key: key) }
            case .epoch(let r):
                try? store.recordEpoch(EpochRow(r, key: key))
                try? store.heartbeat(key: key)
                emit(WorkerProgress(key: key, epoch: r.epoch, epochs: epochs, batch: 0, batches: 0, loss: r.trainLoss,
                                    imagesPerSecond: r.imagesPerSecond, testError: r.testError))
            }
        }
    }

    /// SIGINT/SIGTERM: mark the runs still running interrupted (each resumes from its last epoch
    /// checkpoint) and exit.
    static func installTerminationHandler(store: Store, keys: [String]) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            // Weak: once the run is over the store closes, and SQLite folds the WAL into the database
            // file (a Slurm shard is then one self-contained file).
            source.setEventHandler { [weak store] in
                for key in keys { try? store?.markInterrupted(key: key) }
                exit(WorkerExit.interrupted.rawValue)
            }
            source.resume()
            signalSources.append(source)
        }
    }
    nonisolated(unsafe) static var signalSources: [DispatchSourceSignal] = []
}

public enum WorkerError: Error, CustomStringConvertible {
    case teacherNotDone(String)
    case dataChanged(dataset: DatasetID, planned: String, now: String)
    public var description: String {
        switch self {
        case .teacherNotDone(let k): return "teacher run \(k) is not done (or has no checkpoint)"
        case .dataChanged(let d, let planned, let now):
            return "the \(d) data changed since the run was planned (fingerprint \(planned.prefix(12))…, now \(now.prefix(12))…): "
                + "run the grid again, which gives changed data new runs"
        }
    }
}

extension EpochRow {
    init(_ r: EpochRecord, key: String) {
        self.init(runKey: key, epoch: r.epoch, trainLoss: r.trainLoss, trainError: r.trainError, testLoss: r.testLoss,
                  testError: r.testError, learningRate: r.learningRate, seconds: r.seconds, imagesPerSecond: r.imagesPerSecond,
                  parts: r.parts, beta: r.beta, testTop5Error: r.testTop5Error)
    }
}

/// This machine's name and whether a claim's owner process still lives.
public enum Host {
    public static let name = ProcessInfo.processInfo.hostName

    /// Same host: the process exists. Another host: assumed alive (its heartbeat decides elsewhere).
    public static func isAlive(host: String, pid: Int) -> Bool {
        guard host == name else { return true }
        return kill(pid_t(pid), 0) == 0 || errno == EPERM
    }
}
