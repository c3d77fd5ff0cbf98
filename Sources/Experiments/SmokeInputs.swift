// Tiny stand-ins for the inputs of Tables 4 and 5 (tests, `scripts/table4-smoke-test`,
// `scripts/table5-smoke-test`): CUB-200-2011 and MIT Indoor-67 folders of a few generated JPEGs,
// an ImageNet folder of 1000 made-up classes with one training and one validation image each, and
// freshly initialised ResNet-18/34 weights under torchvision's names with a 1000-class head, as
// `scripts/export-torchvision` writes them.
import Autograd
import Data
import Foundation
import NN
import Tensor

public enum SmokeInputs {
    /// Writes `data`/cub200, `data`/indoor67 (`classes` classes each), `data`/imagenet and the
    /// two weights files in `weights`.
    public static func write(data: String, weights: String, classes: Int) throws {
        let config = TinyJPEGConfig(classes: classes, trainPerClass: 3, testPerClass: 2, sides: 40...72, seed: 0)
        for id in [DatasetID.cub200, .indoor67] {
            try Datasets.writeTinyJPEG(id, to: (data as NSString).appendingPathComponent(id.rawValue), config: config)
        }
        // The pretrained teacher's head has ImageNet's 1000 classes, and so must the data it is tested on.
        try Datasets.writeTinyJPEG(.imagenet, to: (data as NSString).appendingPathComponent(DatasetID.imagenet.rawValue),
                                   config: TinyJPEGConfig(classes: ImageNet.numClasses, trainPerClass: 1, testPerClass: 1,
                                                          sides: 40...72, seed: 0))
        try FileManager.default.createDirectory(atPath: weights, withIntermediateDirectories: true)
        for (depth, seed) in [(18, 1), (34, 2)] {
            var rng = RNG(seed: UInt64(seed))
            let model = try Model(name: "resnet-\(depth)", numClasses: 1000, rng: &rng)
            // Pretrained networks have BN statistics that fit their activations; fresh ones (mean 0,
            // variance 1) make a frozen-BN ResNet an unnormalised deep net that fine-tuning blows up.
            // So calibrate them: training-mode forwards on unit-variance 64×64 images.
            GradMode.withoutGraph {
                for _ in 0..<30 { _ = model.forward(Variable(Tensor.normal([8, 3, 64, 64], rng: &rng)), mode: .train, requiresGrad: false) }
            }
            try model.save(to: URL(fileURLWithPath: (weights as NSString).appendingPathComponent("resnet\(depth)-imagenet.safetensors")))
        }
    }
}
