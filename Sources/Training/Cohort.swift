// The training loop. Every run trains in a cohort: the runs of one seed that learn from the same
// teacher see the same batches (the paired design), so a cohort trains them in lockstep, batch by
// batch, and reads each batch (one ahead, on a background thread) and runs the teacher's forward
// on it once for all of them. A run trained alone is a cohort of one. Each member computes exactly
// what it would compute alone (same batches, same teacher output, its own parameters, optimiser and
// checkpoints), bit for bit.
import Autograd
import Data
import Dispatch
import Foundation
import NN
import Tensor

public final class Cohort {
    public let members: [Trainer]
    /// The teacher forwards run so far: one per batch, whatever the number of members.
    public private(set) var teacherForwards = 0

    /// `members` must train on the same batches with the same teacher: equal `lockstepConfig`s and
    /// one teacher object (or none). The data are read through the first member's.
    public convenience init(_ members: [Trainer]) throws {
        guard let first = members.first else { throw TrainingError.invalidConfig("a cohort needs at least one run") }
        for m in members.dropFirst() {
            guard m.config.lockstepConfig == first.config.lockstepConfig, m.teacher === first.teacher else {
                throw TrainingError.invalidConfig("runs of a cohort must share their batches and teacher: \(m.config.student) "
                                                  + "\(m.config.method.name) seed \(m.config.seed) does not with \(first.config.method.name)")
            }
        }
        self.init(checked: members)
    }

    /// A run trained alone.
    public convenience init(_ trainer: Trainer) { self.init(checked: [trainer]) }

    private init(checked members: [Trainer]) { self.members = members }

    /// Trains every member to its last epoch (or to `stopAfter` epochs, to simulate an
    /// interruption), each from the epoch after its own last checkpoint. Returns each member's
    /// curves, or the error that ended it (divergence, a failed checkpoint write); one member's
    /// end does not stop the others. An unreadable batch ends every member still training.
    public func run(stopAfter: Int? = nil) -> [Result<[EpochRecord], Error>] {
        let lead = members[0]
        let train = lead.trainBatcher
        var outcome: [Result<[EpochRecord], Error>?] = Array(repeating: nil, count: members.count)
        for m in members {
            m.observer(.started(epochs: m.config.epochs, batchesPerEpoch: train.batchesPerEpoch, firstEpoch: m.completedEpochs + 1))
        }
        let last = min(lead.config.epochs, stopAfter ?? lead.config.epochs)
        var epoch = (members.map(\.completedEpochs).min() ?? 0) + 1
        while epoch <= last {
            let due = members.indices.filter { outcome[$0] == nil && members[$0].completedEpochs < epoch }
            var states = Dictionary(uniqueKeysWithValues: due.map { ($0, EpochState(members[$0], epoch: epoch)) })
            let batches = train.epoch(epoch).prefetching()
            while !states.isEmpty {
                let start = DispatchTime.now().uptimeNanoseconds
                let (b, batch): (Int, Batch)
                do {
                    guard let next = try batches.next() else { break }   // throws for an unreadable JPEG
                    (b, batch) = next
                } catch {
                    for i in states.keys { outcome[i] = .failure(error) }
                    states = [:]
                    break
                }
                let readers = states.keys.filter { members[$0].config.method.readsTeacherForward }
                let shared = readers.isEmpty ? nil : lead.teacher.map { teacherForward($0, batch.images) }
                if shared != nil { teacherForwards += 1 }
                // The wait for the batch and the teacher's forward are charged to the members in equal
                // shares.
                let share = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(states.count)
                for i in states.keys.sorted() {
                    let m = members[i]
                    let stepStart = DispatchTime.now().uptimeNanoseconds
                    do {
                        let obj = try m.trainStep(batch, method: states[i]!.method, learningRate: states[i]!.learningRate, epoch: epoch,
                                                  batchNumber: b + 1, teacherOutput: m.config.method.readsTeacherForward ? shared : nil)
                        let seconds = share + Double(DispatchTime.now().uptimeNanoseconds - stepStart) / 1e9
                        states[i]!.add(obj, labels: batch.labels, seconds: seconds)
                        m.observer(.batch(epoch: epoch, batch: b + 1, batches: train.batchesPerEpoch, loss: Double(obj.loss.value.scalar),
                                          imagesPerSecond: states[i]!.imagesPerSecond))
                    } catch {
                        // Keep the curve so far beside the checkpoint (a diverged run's curves.json).
                        if case TrainingError.diverged = error, let directory = m.directory { try? m.saveCurves(m.curves, to: directory) }
                        outcome[i] = .failure(error)
                        states[i] = nil
                    }
                }
            }
            for i in states.keys.sorted() {
                do {
                    try members[i].finishEpoch(states[i]!)
                } catch {
                    outcome[i] = .failure(error)
                }
            }
            epoch += 1
        }
        for (i, m) in members.enumerated() where outcome[i] == nil {
            outcome[i] = Result {
                if let directory = m.directory, m.completedEpochs == m.config.epochs {
                    try m.student.save(to: directory.appendingPathComponent(Trainer.modelName))
                }
                return m.curves
            }
        }
        return outcome.map { $0! }
    }
}

/// One member's epoch in progress: its schedule and its sums over the batches so far.
struct EpochState {
    let epoch: Int
    let learningRate: Float
    let method: Method
    var lossSum = 0.0, wrong = 0, seen = 0
    var partSums: [String: Double] = [:]
    /// The member's training seconds: its steps and its shares of the batches and teacher forwards.
    var seconds = 0.0

    /// Starts `epoch` for `trainer`: the learning rate and β of the epoch, the momentum reset at a milestone.
    init(_ trainer: Trainer, epoch: Int) {
        self.epoch = epoch
        if trainer.config.milestones.contains(epoch) { trainer.sgd.resetMomentum() }
        learningRate = trainer.config.learningRate(epoch: epoch)
        method = trainer.methodFor(epoch: epoch)
    }

    mutating func add(_ obj: Objective, labels: [Int], seconds: Double) {
        let n = labels.count
        seen += n
        lossSum += Double(obj.loss.value.scalar) * Double(n)
        for (k, v) in obj.parts { partSums[k, default: 0] += Double(v) * Double(n) }
        wrong += misclassified(obj.student.logits.value, labels)
        self.seconds += seconds
    }

    var imagesPerSecond: Double { Double(seen) / seconds }
}

extension Trainer {
    /// Ends an epoch: evaluates on the test split, appends the epoch's record, saves the
    /// checkpoint and tells the observer. A loss that is not finite keeps the curve with the
    /// diverged epoch (curves.json, the observer's store) and throws; the checkpoint stays at the
    /// last finite epoch, so a retry resumes from there.
    func finishEpoch(_ state: EpochState) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let test = try evaluate(student, on: data.test, batchSize: evaluationBatchSize)
        let seconds = state.seconds + Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let seen = Double(state.seen)
        let record = EpochRecord(epoch: state.epoch, trainLoss: state.lossSum / seen, trainError: 100 * Double(state.wrong) / seen,
                                 testLoss: test.loss, testError: test.error, parts: state.partSums.mapValues { $0 / seen },
                                 learningRate: Double(state.learningRate), seconds: seconds, imagesPerSecond: state.imagesPerSecond,
                                 beta: state.method.beta.map(Double.init), testTop5Error: test.top5Error)
        curves.append(record)
        if let kind = Trainer.nonFiniteLoss(record) {
            if let directory { try saveCurves(curves, to: directory) }
            observer(.epoch(record))
            throw TrainingError.diverged(epoch: state.epoch, batch: nil, loss: kind,
                                         value: kind == .test ? record.testLoss : record.trainLoss)
        }
        if let directory { try save(to: directory) }
        observer(.epoch(record))
    }
}

extension RunConfig {
    /// What the runs of a cohort share: the configuration with the method left out. Runs whose
    /// `lockstepConfig`s are equal (and whose teacher is the same run) see the same batches in the
    /// same order, so they may train in one cohort.
    public var lockstepConfig: RunConfig {
        var c = withoutPaths
        c.method = .ce
        return c
    }
}
