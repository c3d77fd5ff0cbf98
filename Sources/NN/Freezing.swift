// What stays fixed while a model trains. Paper Table 4 fine-tunes ImageNet-pretrained ResNets
// with "batch-norm layers fixed" and "the first group of residual blocks frozen".

/// Parts of a model that training leaves alone. A frozen parameter is a leaf without gradient,
/// is never updated by SGD and gets no weight decay. A frozen BN layer uses its running
/// statistics in train mode too and never updates them; its affine parameters are frozen.
/// Freezing a stem or a group freezes everything in it, its BN layers included, so the
/// frozen part computes the same function throughout training.
public struct Freezing: Codable, Hashable, Sendable {
    /// Every BN layer of the model.
    public var batchNorm: Bool
    /// The modules before the first group (ResNet: `conv1`, `bn1`; WRN: `conv0`).
    public var stem: Bool
    /// 0-based groups (ResNet: 0 = `layer1` … 3 = `layer4`).
    public var groups: [Int]

    public init(batchNorm: Bool = false, stem: Bool = false, groups: [Int] = []) {
        self.batchNorm = batchNorm; self.stem = stem; self.groups = groups
    }

    /// Table 4's fine-tuning: all BN fixed, the stem and the first group frozen.
    public static let fineTuning = Freezing(batchNorm: true, stem: true, groups: [0])

    /// True when nothing is frozen.
    public var isEmpty: Bool { !batchNorm && !stem && groups.isEmpty }
}
