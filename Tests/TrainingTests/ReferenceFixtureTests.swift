// Every fixture in shared/reference (or $ATX_REFERENCE_DIR) checked end to end against PyTorch:
// forward quantities, BN running statistics, losses and every gradient.
import Foundation
import XCTest
import Autograd
import NN
import Tensor
@testable import Training

final class ReferenceFixtureTests: XCTestCase {
    static var referenceDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["ATX_REFERENCE_DIR"] { return URL(fileURLWithPath: dir) }
        // Tests/TrainingTests/ReferenceFixtureTests.swift → repository root → ../shared/reference
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/reference")
    }

    /// Worst errors per fixture and tensor kind, printed at the end of each fixture.
    struct Worst {
        var figures: [String: (Double, String)] = [:]
        mutating func note(_ kind: String, _ value: Double, _ tensor: String) {
            if value > (figures[kind]?.0 ?? -1) { figures[kind] = (value, tensor) }
        }
    }

    func testEveryFixtureMatchesPyTorch() throws {
        guard FileManager.default.fileExists(atPath: Self.referenceDirectory.path) else {
            return XCTFail("reference fixtures not found at \(Self.referenceDirectory.path): lay shared/ beside the repository or set ATX_REFERENCE_DIR")
        }
        let files = try FileManager.default.contentsOfDirectory(at: Self.referenceDirectory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "safetensors" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
        XCTAssertFalse(files.isEmpty, "no fixtures in \(Self.referenceDirectory.path)")
        for file in files {
            try checkFixture(file)
        }
        print("reference fixtures: \(files.count) checked, 0 unchecked")
    }

    func checkFixture(_ url: URL) throws {
        let name = url.lastPathComponent
        let f = try SafeTensorsFile(contentsOf: url)
        let md = f.metadata
        let inChannels = Int(md["in_channels"] ?? "3")!, classes = Int(md["num_classes"] ?? "10")!
        let mapping = try XCTUnwrap(Mapping(rawValue: md["mapping"] ?? "sum2"), "\(name): mapping \(md["mapping"] ?? "")")
        var rng = RNG(seed: 0)

        func load(_ prefix: String, _ modelName: String, expectedParams: String?) throws -> Model {
            let model = try Model(name: modelName, inChannels: inChannels, numClasses: classes, rng: &rng)
            XCTAssertEqual(model.parameterCount, Int(expectedParams ?? "") ?? -1, "\(name): \(modelName) parameter count")
            for p in model.parameterNames { model.parameters[p] = try f.tensor(named: "\(prefix).\(p)", expectedShape: model.parameters[p]!.shape) }
            for b in model.buffers.keys { model.buffers[b] = try f.tensor(named: "\(prefix).\(b)", expectedShape: model.buffers[b]!.shape) }
            let known = Set(model.parameterNames + model.buffers.keys)
            let stored = f.names.filter { $0.hasPrefix(prefix + ".") }.map { String($0.dropFirst(prefix.count + 1)) }
            XCTAssertEqual(Set(stored).subtracting(known), [], "\(name): stored \(prefix) tensors the model does not have")
            return model
        }
        let student = try load("student", md["student"]!, expectedParams: md["student_params"])
        let teacherName = md["teacher"] ?? ""
        let teacher = teacherName.isEmpty ? nil : try load("teacher", teacherName, expectedParams: md["teacher_params"])

        let input = try f.tensor(named: "input")
        let labels = try f.int64s(named: "labels").values
        var hyper: [String: Float] = [:]
        let methodName = md["method"]!
        for key in (Method.defaults[methodName] ?? [:]).keys { if let v = md[key].flatMap(Float.init) { hyper[key] = v } }
        let method = try Method(name: methodName, mapping: mapping, hyperparameters: hyper)

        let obj = try objective(method, student: student, teacher: teacher, input: input, labels: labels)
        var worst = Worst()

        func forward(_ tensor: String, _ ours: Tensor, kind: String) throws {
            let ref = ours.count == 1 ? try f.tensor(named: tensor) : try f.tensor(named: tensor, expectedShape: ours.shape)
            XCTAssertEqual(ref.count, ours.count, "\(name): \(tensor) size")
            let scale = ref.data.map { Double(abs($0)) }.max() ?? 0
            let err = zip(ours.data, ref.data).map { abs(Double($0) - Double($1)) }.max()! / max(scale, 1e-30)
            worst.note(kind, err, tensor)
            XCTAssertLessThanOrEqual(err, 1e-4, "\(name): \(tensor) max|ours − ref|/max|ref| = \(err)")
        }
        func gradient(_ tensor: String, _ ours: Tensor) throws {
            let ref = try f.tensor(named: tensor, expectedShape: ours.shape)
            var d = 0.0, n = 0.0
            for (a, b) in zip(ours.data, ref.data) { d += (Double(a) - Double(b)) * (Double(a) - Double(b)); n += Double(b) * Double(b) }
            let err = d.squareRoot() / max(n.squareRoot(), 1e-30)
            worst.note(tensor.hasPrefix("expected.grad.") ? "param grads" : "input grads", err, tensor)
            XCTAssertLessThanOrEqual(err, 1e-3, "\(name): \(tensor) ‖ours − ref‖/‖ref‖ = \(err)")
        }

        try forward("expected.logits", obj.student.logits.value, kind: "logits")
        for (g, group) in obj.student.groups.enumerated() {
            try forward("expected.group.\(g)", group.value, kind: "groups")
            try forward("expected.attention.\(g)", attention(group.detached(), mapping: mapping).value, kind: "attention")
        }
        if let t = obj.teacherLogits { try forward("expected.teacher.logits", t, kind: "teacher logits") }
        else { XCTAssertFalse(f.names.contains("expected.teacher.logits") && method.needsTeacher, "\(name): teacher logits not computed") }
        for (key, value) in student.buffers {
            let stored = "expected.student.\(key)"
            if f.names.contains(stored) { try forward(stored, value, kind: "bn stats") }
        }
        try forward("expected.loss", obj.loss.value, kind: "losses")
        for part in ["ce", "kd", "at", "penalty"] where f.names.contains("expected.loss.\(part)") {
            let ours = try XCTUnwrap(obj.parts[part], "\(name): our objective has no '\(part)' part")
            try forward("expected.loss.\(part)", Tensor(scalar: ours), kind: "losses")
        }
        let grads = try gradients(of: obj.loss, wrt: obj.parameters)
        for (p, g) in zip(student.parameterNames, grads) { try gradient("expected.grad.\(p)", g.value) }
        XCTAssertEqual(Set(f.names.filter { $0.hasPrefix("expected.grad.") }), Set(student.parameterNames.map { "expected.grad.\($0)" }),
                       "\(name): gradient tensors stored vs parameters")
        if let j = obj.inputGradient { try gradient("expected.input_grad", j) }
        if let j = obj.teacherInputGradient { try gradient("expected.teacher.input_grad", j) }
        for (kind, (value, tensor)) in worst.figures.sorted(by: { $0.key < $1.key }) {
            print(String(format: "%@  %-14@ worst %.2e  (%@)", name, kind, value, tensor))
        }
    }
}
