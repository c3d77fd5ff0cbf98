import ArgumentParser
import Data
import Foundation
import NN
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train one run; leaves its checkpoint, final model and curves (JSON) in --out.",
        discussion: "Re-running with the same --out and options resumes after the last completed epoch.")

    @Option(help: "Student model: wrn-D-K, nin-wide, nin-thin, nin-thin-nobn, ….") var student: String
    @Option(help: "Teacher model name (defaults to the teacher checkpoint's own).") var teacher: String?
    @Option(help: "Trained teacher: a run's model.safetensors (or its checkpoint.safetensors, whose student is used).") var teacherCheckpoint: String?
    @Option(help: "The method.") var method = MethodKind.ce
    @Option(help: "Attention mapping for at / at+kd (default sum2).") var mapping: Mapping?
    @Option(help: "Method weight β (default per method).") var beta: Float?
    @Option(help: "KD weight α.") var alpha: Float?
    @Option(help: "KD temperature.") var temperature: Float?
    @Option(help: "KD's normalisation for kd / at+kd: 2017 (the official code of January 2017, α·T²·2/K; the default) or 2018 (α·T²).") var kdForm: KDForm?
    @Option(help: "β's schedule for at+kd / factt: lr (decays with the learning rate; the default), constant, or a per-epoch factor in (0, 1].")
    var betaDecay: String?
    @Option(help: "The dataset (auto: CIFAR-10 when present, else Fashion-MNIST).") var dataset = DatasetChoice.auto
    // Numbers are parsed unconditionally, so "-5" is read as a value (and refused below), not as a flag.
    @Option(parsing: .unconditional, help: "Epochs; learning-rate drops scale to 0.3, 0.6, 0.8 of them.") var epochs = 200
    @Option(parsing: .unconditional, help: "Batch size.") var batchSize = 128
    @Option(parsing: .unconditional, help: "Initial learning rate.") var lr: Float = 0.1
    @Option(parsing: .unconditional, help: "Weight decay.") var weightDecay: Float = 5e-4
    @Option(parsing: .unconditional, help: "Stratified training subset (same count per class).") var trainSubset: Int?
    @Flag(help: "No horizontal flips.") var noFlip = false
    @Flag(help: "No reflect-pad-and-crop.") var noCrop = false
    @Option(name: .customLong("init"), help: "How WRN weights are drawn: 2017 (std 2/√fan_in, the official code of January 2017) or kaiming (√(2/fan_in)).")
    var initialization: WeightInitialization = .code2017
    @Option(help: "How crops pad: symmetric (edge repeated, the official code of January 2017) or reflect (edge not repeated).")
    var paddingMode: PaddingMode = .symmetric
    @Option(help: "Seed of initialisation, shuffling, augmentation and subset.") var seed: UInt64 = 0
    @OptionGroup var threads: ThreadOptions
    @Option(help: "Run directory.") var out: String

    func validate() throws {
        for (flag, value) in [("--epochs", epochs), ("--batch-size", batchSize), ("--train-subset", trainSubset ?? 1)] where value < 1 {
            throw ValidationError("\(flag) must be a positive number of \(flag == "--epochs" ? "epochs" : "images"), got \(value)")
        }
        guard lr.isFinite, lr > 0 else { throw ValidationError("--lr must be a positive number, got \(lr)") }
        guard weightDecay.isFinite, weightDecay >= 0 else { throw ValidationError("--weight-decay must be 0 or more, got \(weightDecay)") }
        if try hyperparameters().needsTeacher, teacherCheckpoint == nil {
            throw ValidationError("--method \(method) needs --teacher-checkpoint (train the teacher first with --method ce)")
        }
    }

    /// The method with the options' hyperparameters (what the method does not take is an error).
    func hyperparameters() throws -> Method {
        var hyper: [Hyperparameter: Float] = [:]
        if let beta { hyper[.beta] = beta }
        if let alpha { hyper[.alpha] = alpha }
        if let temperature { hyper[.temperature] = temperature }
        let schedule = try betaDecay.map { text in
            guard let s = BetaSchedule(text) else {
                throw ValidationError("--beta-decay '\(text)' is not accepted; accepted: lr, constant, or a per-epoch factor in (0, 1]")
            }
            return s
        }
        do {
            return try Method(kind: method, mapping: mapping, hyperparameters: hyper, schedule: schedule, kdForm: kdForm)
        } catch let e as MethodError {
            throw ValidationError("--method \(method): \(e)")
        }
    }

    func run() throws {
        threads.apply()
        let method = try hyperparameters()
        var teacherModel: Model?
        if let teacherCheckpoint, !method.needsTeacher {
            print("note: method \(method.name) uses no teacher; ignoring --teacher-checkpoint \(teacherCheckpoint)")
        } else if let teacherCheckpoint {
            do {
                teacherModel = try Model.trained(at: teacherCheckpoint, expected: teacher, role: "--teacher")
            } catch let e as ModelMismatch { throw ValidationError(e.description) }
            if let state = try? SafeTensorsFile(contentsOf: URL(fileURLWithPath: teacherCheckpoint)), state.metadata["format"] == "atx-run-1" {
                print("note: \(teacherCheckpoint) is a run's resumable training state; the teacher is its student after "
                      + "\(state.metadata["epoch"] ?? "?") epochs (a finished run's model is the model.safetensors beside it)")
            }
        }
        var config = RunConfig(student: student, teacher: teacherModel?.name, method: method, dataset: dataset.resolved(),
                               trainSubset: trainSubset, epochs: epochs, batchSize: batchSize, learningRate: lr,
                               weightDecay: weightDecay, flip: !noFlip, crop: !noCrop, seed: seed)
        config.setCodeForms(initialization: initialization, paddingMode: paddingMode)
        let data = try config.openData()
        let progress = ProgressPrinter(label: "\(student) \(method.name)")
        let trainer = try Trainer(config: config, data: data, teacher: teacherModel,
                                  directory: URL(fileURLWithPath: out), observer: progress.handle)
        print("\(student) ← \(teacherModel?.name ?? "no teacher"), \(method.name), \(data.dataset) (\(data.train.count) train / \(data.test.count) test), "
              + "\(epochs) epochs, milestones \(config.milestones), \(threads.threads) threads")
        let curves = try trainer.run()
        if let last = curves.last {
            print(String(format: "final test error %.2f%% after %d epochs; %@ holds checkpoint, model and curves", last.testError, last.epoch, out))
        }
    }
}

/// Prints a progress line per batch (overwritten in place) and a line per epoch.
final class ProgressPrinter: @unchecked Sendable {
    let label: String
    var epochs = 0, start = Date()
    init(label: String) { self.label = label }

    func handle(_ event: TrainingEvent) {
        switch event {
        case .started(let epochs, _, let first):
            self.epochs = epochs
            start = Date()
            if first > 1 { print("resuming at epoch \(first)") }
        case .batch(let epoch, let batch, let batches, let loss, let ips):
            let width = 24, filled = width * batch / max(batches, 1)
            let eta = Double(batches - batch) * (Date().timeIntervalSince(start) / Double(batch))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write(Data(String(format: "\r%@ epoch %d/%d %@ %d/%d loss %.4f %.0f img/s ETA %@ ",
                                                  label, epoch, epochs, bar, batch, batches, loss, ips, duration(eta)).utf8))
            if batch == batches { start = Date() }
        case .epoch(let r):
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            let parts = r.parts.sorted { $0.key < $1.key }.map { String(format: "%@ %.4g", $0.key, $0.value) }.joined(separator: ", ")
            print(String(format: "epoch %3d  lr %.4g  train loss %.4f err %.2f%%  test loss %.4f err %.2f%%  [%@]  %.0fs %.0f img/s",
                         r.epoch, r.learningRate, r.trainLoss, r.trainError, r.testLoss, r.testError, parts, r.seconds, r.imagesPerSecond))
            fflush(nil)
        }
    }

    func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}
