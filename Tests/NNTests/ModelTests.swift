import Foundation
import XCTest
import Autograd
import Tensor
@testable import NN

final class ModelTests: XCTestCase {
    func testParameterCountsAreExact() throws {
        var rng = RNG(seed: 1)
        let expected = ["wrn-16-1": 175_066, "wrn-16-2": 691_674, "wrn-40-1": 563_930, "wrn-40-2": 2_243_546,
                        // docs/protocol.md §5 (and the fixtures' metadata)
                        "nin-wide": 1_005_642, "nin-thin": 206_640, "nin-thin-nobn": 205_923,
                        "nin-thin-nobn-nopoolrelu": 205_923, "nin-wide-nopoolrelu": 1_005_642]
        for (name, count) in expected {
            XCTAssertEqual(try Model(name: name, rng: &rng).parameterCount, count, name)
        }
    }

    /// A WRN's conv and linear weights: std 2/√fan_in as the official code of January 2017 drew
    /// them (a28b02e utils.py:14–21), or Kaiming's √(2/fan_in); BN and other families unchanged.
    func testWRNInitialisationOfTheCodeOf2017() throws {
        var a = RNG(seed: 3), b = RNG(seed: 3)
        let code = try Model(name: "wrn-16-2", initialization: .code2017, rng: &a)
        let kaiming = try Model(name: "wrn-16-2", initialization: .kaiming, rng: &b)
        func std(_ t: Tensor) -> Float {
            let mean = t.data.reduce(0, +) / Float(t.count)
            return (t.data.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(t.count)).squareRoot()
        }
        for (name, fanIn) in [("group1.block1.conv1", 64 * 9), ("group2.block0.conv0", 64 * 9), ("fc.weight", 128)] {
            let c = std(code.parameters[name]!), k = std(kaiming.parameters[name]!)
            XCTAssertEqual(c, 2 / Float(fanIn).squareRoot(), accuracy: 0.05 * c, name)
            XCTAssertEqual(k, (2 / Float(fanIn)).squareRoot(), accuracy: 0.05 * k, name)
        }
        XCTAssertEqual(code.parameters["group0.block0.bn0.weight"]!.data.count, 16)
        XCTAssertTrue(code.parameters["group0.block0.bn0.weight"]!.data.allSatisfy { (0..<1).contains($0) })
        XCTAssertTrue(Model.takesInitialization("wrn-40-1"))
        XCTAssertFalse(Model.takesInitialization("nin-thin") || Model.takesInitialization("resnet-18"))
        var c = RNG(seed: 4), d = RNG(seed: 4)
        XCTAssertEqual(try Model(name: "nin-thin", initialization: .code2017, rng: &c).parameters,
                       try Model(name: "nin-thin", initialization: .kaiming, rng: &d).parameters)
    }

    func testUnknownNamesAndBadDepthsListWhatIsAccepted() {
        var rng = RNG(seed: 1)
        XCTAssertThrowsError(try Model(name: "resnet-9", rng: &rng)) { e in
            XCTAssertEqual(e as? ModelError, .unknownModel("resnet-9"))
            XCTAssertTrue("\(e)".contains("wrn-16-1") && "\(e)".contains("nin-thin-nobn"), "\(e)")
        }
        XCTAssertThrowsError(try Model(name: "wrn-15-1", rng: &rng)) { e in
            XCTAssertEqual(e as? ModelError, .badDepth(name: "wrn-15-1", depth: 15))
            XCTAssertTrue("\(e)".contains("6n+4"))
        }
        XCTAssertThrowsError(try Model(name: "wrn-16-1", inChannels: 2, rng: &rng))
    }

    func testNamesShapesAndInitialisationFollowTheOfficialCode() throws {
        var rng = RNG(seed: 3)
        let m = try Model(name: "wrn-16-2", inChannels: 1, numClasses: 7, rng: &rng)
        XCTAssertEqual(m.parameters["conv0"]!.shape, [16, 1, 3, 3])
        XCTAssertEqual(m.parameters["group0.block0.convdim"]!.shape, [32, 16, 1, 1])
        XCTAssertNil(m.parameters["group0.block1.convdim"])
        XCTAssertEqual(m.parameters["fc.weight"]!.shape, [7, 128])
        XCTAssertEqual(m.buffers["group2.block1.bn1.running_var"]!.data, [Float](repeating: 1, count: 128))
        let w = m.parameters["group1.block1.conv0"]!.data   // fan_in 64·9
        let std = (w.map { Double($0 * $0) }.reduce(0, +) / Double(w.count)).squareRoot()
        XCTAssertEqual(std, (2.0 / 576).squareRoot(), accuracy: 0.004)
        let gamma = m.parameters["bn.weight"]!.data
        XCTAssertTrue(gamma.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertTrue(m.parameters["bn.bias"]!.data.allSatisfy { $0 == 0 })
        let nin = try Model(name: "nin-thin-nobn", rng: &rng)
        XCTAssertEqual(nin.parameters["block0.conv0.bias"]!.shape, [86])
        XCTAssertTrue(nin.buffers.isEmpty)
    }

    func testForwardShapesAndModes() throws {
        var rng = RNG(seed: 4)
        for name in ["wrn-16-1", "nin-thin"] {
            let m = try Model(name: name, rng: &rng)
            let x = Variable(Tensor.normal([2, 3, 32, 32], rng: &rng))
            let before = m.buffers
            let (out, params) = m.forward(x, mode: .eval)
            XCTAssertEqual(out.logits.shape, [2, 10])
            XCTAssertEqual(out.groups.map { Array($0.shape[2...]) }, [[32, 32], [16, 16], [8, 8]], name)
            XCTAssertEqual(params.count, m.parameterNames.count)
            XCTAssertEqual(m.buffers, before, "\(name): eval mode changed the running statistics")
            _ = m.forward(x, mode: .train)
            XCTAssertNotEqual(m.buffers, before, "\(name): train mode did not update the running statistics")
        }
    }

    func testCheckpointRoundTripGivesBitIdenticalLogits() throws {
        var rng = RNG(seed: 5)
        let m = try Model(name: "wrn-16-1", rng: &rng)
        let x = Variable(Tensor.normal([3, 3, 32, 32], rng: &rng))
        _ = m.forward(x, mode: .train)   // non-trivial running statistics
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atx-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        try m.save(to: url)
        let back = try Model(checkpoint: url)
        XCTAssertEqual(back.name, "wrn-16-1")
        XCTAssertEqual(back.forward(x, mode: .eval).output.logits.value.data, m.forward(x, mode: .eval).output.logits.value.data)
        XCTAssertEqual(back.stateTensors, m.stateTensors)
        // Official names, no prefix: what PyTorch's `load_file` gives a user.
        XCTAssertEqual(Set(try SafeTensorsFile(contentsOf: url).names), Set(m.stateTensors.keys))

        // A misshapen tensor names the file and the tensor.
        var wrong = m.stateTensors
        wrong["fc.weight"] = Tensor(zeros: [10, 32])
        try SafeTensors.write(tensors: wrong, metadata: m.checkpointMetadata, to: url)
        XCTAssertThrowsError(try Model(checkpoint: url)) { e in
            XCTAssertTrue("\(e)".contains(url.path) && "\(e)".contains("fc.weight"), "\(e)")
        }
        wrong["fc.weight"] = nil
        try SafeTensors.write(tensors: wrong, metadata: m.checkpointMetadata, to: url)
        XCTAssertThrowsError(try Model(checkpoint: url)) { e in XCTAssertTrue("\(e)".contains("fc.weight"), "\(e)") }
    }
}
