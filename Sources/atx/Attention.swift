import ArgumentParser
import Data
import Foundation
import NN
import Report
import Training

struct Attention: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render an input image and the F_sum^2 attention map of each group (as the paper's Figure 1) as a PNG.")

    @Option(help: "Trained model (model.safetensors of a run).") var checkpoint: String
    @Option(help: "Its model name (checked against the checkpoint).") var model: String?
    @Option(help: "A teacher's model.safetensors, drawn in a second row.") var teacherCheckpoint: String?
    @Option(help: "The dataset (auto: CIFAR-10 when present, else Fashion-MNIST); a 32×32 one.") var dataset = DatasetChoice.auto
    @Option(help: "train or test.") var split = Split.test
    @Option(help: "Index of the image in the split.") var index = 0
    @Option(help: "Pixels per tile side.") var tile = 160
    @Option(help: "Output PNG.") var out: String

    func validate() throws {
        guard tile >= 1 else { throw ValidationError("--tile must be at least 1, got \(tile)") }
    }

    func run() throws {
        let student: Model
        do {
            student = try Model.trained(at: checkpoint, expected: model, role: "--model")
        } catch let e as ModelMismatch { throw ValidationError(e.description) }
        let teacher = try teacherCheckpoint.map { try Model.trained(at: $0) }
        let data = try Datasets.inMemory(dataset.resolved())
        let images = split == .train ? data.train : data.test
        guard (0..<images.count).contains(index) else {
            throw ValidationError("--index \(index) is outside 0..<\(images.count) of \(images.name)")
        }
        let batch = images.batch(indices: [index])
        let raw = images.images[(index * images.imageSize)..<((index + 1) * images.imageSize)].map { Float($0) / 255 }
        let nets = [teacher, student].compactMap { $0 }
        try AttentionFigure.write(to: out, input: raw, channels: images.channels, side: ImageDataset.side,
                                  rows: nets.map { $0.attentionMaps(batch) }, tile: tile)
        let label = images.classNames.map { " (\($0[Int(images.labels[index])]))" } ?? ""
        print("wrote \(out): \(images.name) image \(index)\(label); rows: \(nets.map(\.name).joined(separator: ", ")); columns: input, group 0, 1, 2 (F_sum^2)")
    }
}
