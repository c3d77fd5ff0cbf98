// Profile labels of the graph's ops by layer kind (see `Tensor.Profiler`): what `atx bench`
// reports as the share of a training step per kind.
import Tensor

enum ProfileLabels {
    /// The label an op's forward (or, with `backward`, its vector-Jacobian product) is charged to.
    static func label(_ op: String, backward: Bool) -> String {
        switch op {
        case "conv2d", "conv2dBackwardInput", "conv2dBackwardWeight": return backward ? "conv backward" : "conv forward"
        case "batchNorm", "batchNormEval", "batchNormReLU", "batchNormReLUEval": return backward ? "BN(+ReLU) backward" : "BN(+ReLU) forward"
        case "relu": return backward ? "ReLU backward" : "ReLU forward"
        case "maxPool2d", "avgPool2d", "avgPool2dBackward", "scatterAdd", "gather":
            return backward ? "pooling backward" : "pooling forward"
        case "add": return backward ? "add backward" : "add forward"
        case "matmul": return backward ? "linear backward" : "linear forward"
        default: return backward ? "loss & other ops backward" : "loss & other ops forward"
        }
    }
}
