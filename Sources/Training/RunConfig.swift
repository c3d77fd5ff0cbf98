// Everything that defines one training run (the grid fills it from YAML; `atx train` from flags).
// Fields added after Tables 1–3 are optional and left out of the encoding when unset, so the
// runs of those tables keep their configuration bytes and run keys.
import Data
import NN

/// The weights a fine-tuning run starts from: a torchvision export (`scripts/export-torchvision`)
/// named by its SHA-256. The hash is part of the run's identity; the file's path is only where
/// to find it (a grid's run key leaves the path out, so moving the file keeps the key).
public struct PretrainedWeights: Codable, Sendable, Equatable, Hashable {
    public var sha256: String
    public var file: String?
    public init(sha256: String, file: String? = nil) { self.sha256 = sha256; self.file = file }
}

public struct RunConfig: Codable, Sendable, Equatable, Hashable {
    public var student: String
    /// The teacher's model name, when the method needs one (its weights come from a checkpoint).
    public var teacher: String?
    public var method: Method
    /// The dataset, resolved ("auto" is a spec's or a flag's choice, never a run's).
    public var dataset: DatasetID
    /// A stratified subset of the training split (same count per class), drawn with the run's
    /// seed, when set.
    public var trainSubset: Int?
    /// A stratified subset of the test split, drawn with seed 0 (the same for every run), when set.
    public var testSubset: Int?
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var momentum: Float
    public var weightDecay: Float
    /// 1-indexed epochs at whose start the learning rate is multiplied by `lrDecay` (and the
    /// momentum buffers reset): the official code's [60, 120, 160] for 200 epochs.
    public var milestones: [Int]
    public var lrDecay: Float
    public var flip: Bool
    public var crop: Bool
    public var seed: UInt64
    /// Start from these weights (the head is fresh when the class count differs), when set.
    public var pretrained: PretrainedWeights?
    /// What stays fixed in training (Table 4: BN, stem, first group), when set.
    public var freezing: Freezing?
    /// Resize and crop sides of a JPEG dataset; nil: 256 and 224.
    public var geometry: ImageGeometry?
    /// How a WRN's weights are drawn; nil: Kaiming's (the runs before the January 2017 form was named).
    public var initialization: WeightInitialization?
    /// How crops pad the 32×32 images; nil: `.reflect` (the runs before the January 2017 form was named).
    public var paddingMode: PaddingMode?

    public init(student: String, teacher: String? = nil, method: Method = .ce, dataset: DatasetID,
                trainSubset: Int? = nil, testSubset: Int? = nil, epochs: Int = 200, batchSize: Int = 128, learningRate: Float = 0.1,
                momentum: Float = 0.9, weightDecay: Float = 5e-4, milestones: [Int]? = nil, lrDecay: Float = 0.2,
                flip: Bool = true, crop: Bool = true, seed: UInt64 = 0,
                pretrained: PretrainedWeights? = nil, freezing: Freezing? = nil, geometry: ImageGeometry? = nil,
                initialization: WeightInitialization? = nil, paddingMode: PaddingMode? = nil) {
        self.student = student; self.teacher = teacher; self.method = method; self.dataset = dataset
        self.trainSubset = trainSubset; self.testSubset = testSubset; self.epochs = epochs; self.batchSize = batchSize
        self.learningRate = learningRate; self.momentum = momentum; self.weightDecay = weightDecay
        self.milestones = milestones ?? RunConfig.scaledMilestones(epochs: epochs)
        self.lrDecay = lrDecay; self.flip = flip; self.crop = crop; self.seed = seed
        self.pretrained = pretrained; self.freezing = freezing; self.geometry = geometry
        self.initialization = initialization; self.paddingMode = paddingMode
    }

    /// `initialization` and `paddingMode` as a run stores them: only where they change what the run
    /// computes (a WRN's weights; crops of the 32×32 datasets) and differ from the forms runs had
    /// before they were named, so runs that compute what they did keep their keys.
    public mutating func setCodeForms(initialization: WeightInitialization, paddingMode: PaddingMode) {
        self.initialization = Model.takesInitialization(student) && initialization != .kaiming ? initialization : nil
        self.paddingMode = crop && !dataset.descriptor.isJPEG && paddingMode != .reflect ? paddingMode : nil
    }

    /// The configuration without where files lie (the weights' path): what identifies the run.
    public var withoutPaths: RunConfig {
        var c = self
        c.pretrained?.file = nil
        return c
    }

    /// Milestone `fractions` of `epochs` as 1-indexed epochs, each at least epoch 2 and strictly
    /// increasing where possible; by default the paper's schedule (60, 120, 160 of 200).
    public static func scaledMilestones(epochs: Int, fractions: [Double] = [0.3, 0.6, 0.8]) -> [Int] {
        var out: [Int] = []
        for f in fractions {
            let m = max(2, Int((Double(epochs) * f).rounded()))
            if m <= epochs, m > (out.last ?? 1) { out.append(m) }
        }
        return out
    }

    /// Learning rate of 1-indexed `epoch`.
    public func learningRate(epoch: Int) -> Float {
        milestones.filter { $0 <= epoch }.reduce(learningRate) { lr, _ in lr * lrDecay }
    }

    public var augmentation: Augmentation { Augmentation(flip: flip, crop: crop, paddingMode: paddingMode ?? .reflect) }

    /// The run's data, with the configured subsets (the test subset drawn with seed 0, the same for every run).
    public func openData(locations: DataLocations = .fromEnvironment()) throws -> TrainingData {
        try Datasets.open(dataset, locations: locations, geometry: geometry ?? .imageNet,
                          trainSubset: trainSubset, testSubset: testSubset, subsetSeed: seed)
    }
}
