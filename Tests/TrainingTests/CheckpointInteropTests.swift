// A checkpoint atx writes (the trainer's model.safetensors, Model.save) loads into the PyTorch
// networks of reference/models.py and gives the same eval-mode logits (BN running statistics).
import Foundation
import TestSupport
import XCTest
import Autograd
import Data
import NN
import Tensor
@testable import Training

final class CheckpointInteropTests: XCTestCase {
    func testPyTorchLoadsAtxCheckpointsAndGivesTheSameLogits() throws {
        let python = try TestPython.require(["torch", "safetensors", "numpy"], by: "CheckpointInteropTests")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atx-interop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }

        // A WRN as the trainer leaves it: one epoch of training moved weights and BN statistics.
        let data = SyntheticConfig(trainCount: 64, testCount: 8, channels: 3, numClasses: 4, seed: 3).make()
        let config = RunConfig(student: "wrn-10-1", method: .ce, dataset: .synthetic, epochs: 1, batchSize: 32, seed: 2)
        let runDir = dir.appendingPathComponent("run")
        try Trainer(config: config, data: data, teacher: nil, directory: runDir).run()
        var checkpoints = [runDir.appendingPathComponent(Trainer.modelName)]

        // NIN with BN (1-channel input) and without BN (conv biases), saved by Model.save with
        // non-trivial BN statistics and biases.
        var rng = RNG(seed: 11)
        for (name, channels) in [("nin-thin", 1), ("nin-thin-nobn", 3)] {
            let model = try Model(name: name, inChannels: channels, numClasses: 10, rng: &rng)
            for key in model.buffers.keys {
                let shape = model.buffers[key]!.shape
                model.buffers[key] = key.hasSuffix("running_var") ? Tensor.uniform(shape, low: 0.5, high: 1.5, rng: &rng)
                                                                 : Tensor.uniform(shape, low: -0.2, high: 0.2, rng: &rng)
            }
            for key in model.parameterNames where key.hasSuffix(".bias") {
                model.parameters[key] = Tensor.uniform(model.parameters[key]!.shape, low: -0.1, high: 0.1, rng: &rng)
            }
            let url = dir.appendingPathComponent("\(name).safetensors")
            try model.save(to: url)
            checkpoints.append(url)
        }

        // One Python run (torch imports slowly) for every checkpoint.
        let script = TestPython.repository.appendingPathComponent("reference/eval_checkpoint.py").path
        var arguments = [script], cases: [(Model, Tensor, URL, URL)] = []
        for (i, url) in checkpoints.enumerated() {
            let model = try Model(checkpoint: url)
            let input = Tensor.normal([3, model.inChannels, ImageDataset.side, ImageDataset.side], rng: &rng)
            let inputURL = dir.appendingPathComponent("input\(i).safetensors"), outURL = dir.appendingPathComponent("logits\(i).safetensors")
            try SafeTensors.write(tensors: ["input": input], metadata: [:], to: inputURL)
            arguments += [url.path, inputURL.path, outURL.path]
            cases.append((model, input, url, outURL))
        }
        let (status, output) = try python.run(arguments)
        XCTAssertEqual(status, 0, "eval_checkpoint.py failed: \(output)")
        guard status == 0 else { return }
        for (model, input, url, outURL) in cases {
            let ref = try SafeTensorsFile(contentsOf: outURL).tensor(named: "logits", expectedShape: [3, model.numClasses])
            let ours = GradMode.withoutGraph { model.forward(Variable(input), mode: .eval, requiresGrad: false).output.logits.value }
            let scale = ref.data.map { Double(abs($0)) }.max()!
            let err = zip(ours.data, ref.data).map { abs(Double($0) - Double($1)) }.max()! / max(scale, 1e-30)
            print(String(format: "CheckpointInteropTests: %@ (%@): eval logits max|atx − torch|/max|torch| = %.2e",
                         model.name, url.lastPathComponent, err))
            XCTAssertLessThanOrEqual(err, 1e-4, "\(model.name): PyTorch logits of the atx checkpoint differ")
        }
    }
}
