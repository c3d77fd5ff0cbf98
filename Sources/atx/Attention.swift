import ArgumentParser
import Autograd
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
    @Option(help: "cifar10, fashion-mnist, synthetic, auto.") var dataset = "auto"
    @Option(help: "train or test.") var split = "test"
    @Option(help: "Index of the image in the split.") var index = 0
    @Option(help: "Pixels per tile side.") var tile = 160
    @Option(help: "Output PNG.") var out: String

    func run() throws {
        let student = try Model(checkpoint: URL(fileURLWithPath: checkpoint))
        if let model, model != student.name { throw ValidationError("--model \(model) but \(checkpoint) holds a \(student.name)") }
        let teacher = try teacherCheckpoint.map { try Model(checkpoint: URL(fileURLWithPath: $0)) }
        let data = try Datasets.open(dataset)
        guard let which = Split(rawValue: split) else { throw ValidationError("--split: 'train' or 'test', got '\(split)'") }
        let images = which == .train ? data.train : data.test
        guard (0..<images.count).contains(index) else {
            throw ValidationError("--index \(index) is outside 0..<\(images.count) of \(images.name)")
        }
        let batch = images.batch(indices: [index])
        let raw = images.images[(index * images.imageSize)..<((index + 1) * images.imageSize)].map { Float($0) / 255 }
        let picture = RGBImage(planar: raw, channels: images.channels, width: imageSide, height: imageSide)
            .resized(width: tile, height: tile, .nearest)
        var rows: [[RGBImage?]] = []
        for net in [teacher, student].compactMap({ $0 }) {
            let groups = GradMode.withoutGraph { net.forward(Variable(batch), mode: .eval, requiresGrad: false).output.groups }
            let maps = groups.map { g -> RGBImage in
                let a = attention(g, mapping: .sum2).value
                return RGBImage(heatMap: a.data, width: g.shape[3], height: g.shape[2], colormap: .jet, size: (tile, tile))
            }
            rows.append([picture] + maps)
        }
        try PNG.write(RGBImage.grid(rows, padding: 6), to: out)
        let label = images.classNames.map { " (\($0[Int(images.labels[index])]))" } ?? ""
        print("wrote \(out): \(images.name) image \(index)\(label); rows: \([teacher, student].compactMap { $0?.name }.joined(separator: ", ")); columns: input, group 0, 1, 2 (F_sum^2)")
    }
}
