// Reference fixtures checked end to end against PyTorch: forward quantities, BN running
// statistics, losses and every gradient. Always the committed ones (reference/fixtures, made
// by reference/make_fixtures.py), and also every *.safetensors in $ATX_REFERENCE_DIR when set.
import Foundation
import XCTest
import Autograd
import NN
import Tensor
@testable import Training

final class ReferenceFixtureTests: XCTestCase {
    /// Tests/TrainingTests/ReferenceFixtureTests.swift → the repository root.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let committedDirectory = repository.appendingPathComponent("reference/fixtures")

    /// Worst errors per fixture and tensor kind, printed at the end of each fixture.
    struct Worst {
        var figures: [String: (Double, String)] = [:]
        mutating func note(_ kind: String, _ value: Double, _ tensor: String) {
            if value > (figures[kind]?.0 ?? -1) { figures[kind] = (value, tensor) }
        }
    }

    /// What one fixture exercised, for the coverage check over the committed set.
    struct Checked {
        var models: Set<String> = [], methods: Set<String> = [], mappings: Set<String> = []
        var kinds: Set<String> = [], lossParts: Set<String> = [], batchSizes: Set<Int> = [], inChannels: Set<Int> = []
        var adapterGradients = 0, frozen = 0, groupSubsets = 0
        /// "kd 2017", "at+kd 2018", …: the KD forms each distilling method was checked in.
        var kdForms: Set<String> = []

        mutating func merge(_ o: Checked) {
            models.formUnion(o.models); methods.formUnion(o.methods); mappings.formUnion(o.mappings); kdForms.formUnion(o.kdForms)
            kinds.formUnion(o.kinds); lossParts.formUnion(o.lossParts); batchSizes.formUnion(o.batchSizes)
            inChannels.formUnion(o.inChannels); adapterGradients += o.adapterGradients
            frozen += o.frozen; groupSubsets += o.groupSubsets
        }
    }

    func testCommittedFixturesMatchPyTorch() throws {
        let dir = Self.committedDirectory
        let manifestURL = dir.appendingPathComponent("MANIFEST")
        let manifest = try String(contentsOf: manifestURL, encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        XCTAssertFalse(manifest.isEmpty, "\(manifestURL.path) lists no fixtures")
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".safetensors") }
        XCTAssertEqual(Set(onDisk).subtracting(manifest).sorted(), [], "fixtures in \(dir.path) not listed in MANIFEST (run make fixtures)")

        var checked = 0, total = Checked()
        for name in manifest {
            let url = dir.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                XCTFail("committed fixture \(name) (listed in MANIFEST) is missing from \(dir.path)")
                continue
            }
            total.merge(try checkFixture(url))
            checked += 1
        }
        print("committed reference fixtures: \(checked) of \(manifest.count) checked, \(manifest.count - checked) unchecked")
        XCTAssertEqual(checked, manifest.count, "every committed fixture is checked")

        // The committed set must keep covering everything the issue asks of it.
        XCTAssertEqual(Set(["wrn-16-1", "wrn-16-2", "wrn-40-1", "wrn-40-2", "nin-wide", "nin-thin", "nin-thin-nobn",
                            "nin-thin-nobn-nopoolrelu", "nin-wide-nopoolrelu", "resnet-18", "resnet-34"]).subtracting(total.models), [],
                       "models not covered")
        XCTAssertEqual(Set(["kd 2017", "kd 2018", "at+kd 2017", "at+kd 2018"]).subtracting(total.kdForms), [], "KD forms not covered")
        XCTAssertEqual(Set(MethodKind.allCases.map(\.rawValue)).subtracting(total.methods), [], "methods not covered")
        XCTAssertEqual(Set(Mapping.allCases.map(\.rawValue)).subtracting(total.mappings), [], "attention mappings not covered")
        XCTAssertEqual(Set(["logits", "groups", "attention", "teacher logits", "bn stats", "losses", "param grads", "input grads",
                            "teacher input grads", "adapter grads", "sampled grads"]).subtracting(total.kinds), [], "tensor kinds not covered")
        XCTAssertGreaterThan(total.frozen, 0, "no fixture with Table 4's freezing")
        XCTAssertGreaterThan(total.groupSubsets, 0, "no fixture with AT on chosen groups")
        XCTAssertEqual(Set(["ce", "kd", "at", "factt", "penalty"]).subtracting(total.lossParts), [], "loss parts not covered")
        XCTAssertTrue(total.batchSizes.contains { $0 % 2 == 1 && $0 > 1 }, "no odd batch size among \(total.batchSizes)")
        XCTAssertTrue(total.inChannels.isSuperset(of: [1, 3]), "input channels covered: \(total.inChannels)")
    }

    func testFixturesInReferenceDirectory() throws {
        guard let path = ProcessInfo.processInfo.environment["ATX_REFERENCE_DIR"] else {
            throw XCTSkip("ATX_REFERENCE_DIR is not set; only the committed fixtures are checked (testCommittedFixtures)")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("ATX_REFERENCE_DIR=\(path) does not exist")
            return
        }
        let dir = URL(fileURLWithPath: path)
        let files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "safetensors" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
        XCTAssertFalse(files.isEmpty, "no fixtures in \(path)")
        for file in files { _ = try checkFixture(file) }
        print("reference fixtures in \(path): \(files.count) checked, 0 unchecked")
    }

    /// Checks one fixture: weights stored in it or, for `weights: counter-v1`, generated by
    /// FixtureWeights from its seed (teachers' BN statistics are stored either way).
    func checkFixture(_ url: URL) throws -> Checked {
        let name = url.lastPathComponent
        let f = try SafeTensorsFile(contentsOf: url)
        let md = f.metadata
        let inChannels = Int(md["in_channels"] ?? "3")!, classes = Int(md["num_classes"] ?? "10")!
        let mapping = try XCTUnwrap(Mapping(rawValue: md["mapping"] ?? "sum2"), "\(name): mapping \(md["mapping"] ?? "")")
        let seed = md["seed"] ?? ""
        let generated: Bool
        switch md["weights"] {
        case nil: generated = false
        case "counter-v1": generated = true
        case let other?: XCTFail("\(name): unknown weights scheme '\(other)'"); return Checked()
        }
        var rng = RNG(seed: 0)

        /// A stored tensor, else (generated fixtures) the generator's.
        func tensor(_ key: String, kind: FixtureWeights.Kind, shape: [Int]) throws -> Tensor {
            if f.entries[key] != nil || !generated { return try f.tensor(named: key, expectedShape: shape) }
            return FixtureWeights.values(seed: seed, key: key, kind: kind, shape: shape)
        }
        func load(_ prefix: String, _ modelName: String, expectedParams: String?) throws -> Model {
            let model = try Model(name: modelName, inChannels: inChannels, numClasses: classes, rng: &rng)
            XCTAssertEqual(model.parameterCount, Int(expectedParams ?? "") ?? -1, "\(name): \(modelName) parameter count")
            for p in model.parameterNames {
                model.parameters[p] = try tensor("\(prefix).\(p)", kind: .init(tensorName: p), shape: model.parameters[p]!.shape)
            }
            for b in model.buffers.keys {
                model.buffers[b] = try tensor("\(prefix).\(b)", kind: .init(tensorName: b), shape: model.buffers[b]!.shape)
            }
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
        if generated {
            // The stored batch is the generator's too: a mismatch here means the two generators
            // differ, which would otherwise show up as a puzzling mismatch of every weight.
            XCTAssertEqual(input.data, FixtureWeights.values(seed: seed, key: "input", kind: .input, shape: input.shape).data,
                           "\(name): stored input vs FixtureWeights")
            XCTAssertEqual(labels, FixtureWeights.labels(seed: seed, count: labels.count, classes: classes), "\(name): stored labels vs FixtureWeights")
        }
        var hyper: [Hyperparameter: Float] = [:]
        let kind = try XCTUnwrap(md["method"].flatMap(MethodKind.init(rawValue:)), "\(name): method \(md["method"] ?? "none")")
        for h in kind.hyperparameters { if let v = md[h.rawValue].flatMap(Float.init) { hyper[h] = v } }
        let groups = md["groups"].map { $0.split(separator: ",").compactMap { Int($0) } }
        // Fixtures written before KD had forms computed 2018's.
        let kdForm = kind.takesKDForm ? try XCTUnwrap(KDForm(rawValue: md["kd_form"] ?? "2018"), "\(name): kd_form \(md["kd_form"] ?? "")") : nil
        let method = try Method(kind: kind, mapping: kind.takesAttentionMaps ? mapping : nil, hyperparameters: hyper, groups: groups,
                                kdForm: kdForm)
        // Table 4's fine-tuning: "bn,stem,0" fixes every BN layer, the stem and group 0.
        if let freeze = md["freeze"] {
            let items = freeze.split(separator: ",")
            try student.freeze(Freezing(batchNorm: items.contains("bn"), stem: items.contains("stem"), groups: items.compactMap { Int($0) }))
        }

        // F-ActT: a 1×1 adapter wherever the group channel counts differ (as the trainer does).
        var adapters: [Variable?] = []
        if case .factt = method, let teacher {
            let probe = Variable(Tensor(zeros: [1, inChannels, 8, 8]))
            let (s, t) = GradMode.withoutGraph {
                (student.forward(probe, mode: .eval, requiresGrad: false).output.groups, teacher.forward(probe, mode: .eval, requiresGrad: false).output.groups)
            }
            adapters = [Variable?](repeating: nil, count: s.count)
            for (g, (sg, tg)) in zip(s, t).enumerated() where sg.shape[1] != tg.shape[1] {
                let w = try tensor("adapter.\(g)", kind: .conv, shape: [tg.shape[1], sg.shape[1], 1, 1])
                adapters[g] = Variable(w, requiresGrad: true, name: "adapter.\(g)")
            }
        }
        let adapterNames = adapters.indices.filter { adapters[$0] != nil }.map { "adapter.\($0)" }

        let obj = try objective(method, student: student, teacher: teacher, input: input, labels: labels,
                                adapters: adapters)
        var worst = Worst()
        var compared: Set<String> = []
        var checked = Checked(models: Set([student.name] + (teacher.map { [$0.name] } ?? [])), methods: [method.name],
                              mappings: kind.takesAttentionMaps ? [mapping.rawValue] : [],
                              batchSizes: [input.shape[0]], inChannels: [inChannels],
                              frozen: student.frozenParameterNames.count, groupSubsets: groups == nil ? 0 : 1,
                              kdForms: kdForm.map { ["\(kind) \($0)"] } ?? [])

        func forward(_ tensor: String, _ ours: Tensor, kind: String) throws {
            let ref = ours.count == 1 ? try f.tensor(named: tensor) : try f.tensor(named: tensor, expectedShape: ours.shape)
            XCTAssertEqual(ref.count, ours.count, "\(name): \(tensor) size")
            let scale = ref.data.map { Double(abs($0)) }.max() ?? 0
            let err = zip(ours.data, ref.data).map { abs(Double($0) - Double($1)) }.max()! / max(scale, 1e-30)
            worst.note(kind, err, tensor)
            checked.kinds.insert(kind)
            compared.insert(tensor)
            XCTAssertLessThanOrEqual(err, 1e-4, "\(name): \(tensor) max|ours − ref|/max|ref| = \(err)")
        }
        func gradient(_ tensor: String, _ ours: Tensor, kind: String) throws {
            if f.entries[tensor] == nil, f.entries[tensor + ".sample"] != nil {
                // A large gradient: a sample of its elements (indices stored) and its L2 norm.
                let index = try f.int64s(named: tensor + ".index").values, sample = try f.tensor(named: tensor + ".sample")
                let norm = Double(try f.tensor(named: tensor + ".norm").data[0])
                var d = 0.0, n = 0.0
                for (i, b) in zip(index, sample.data) {
                    let a = Double(ours.data[Int(i)])
                    d += (a - Double(b)) * (a - Double(b)); n += Double(b) * Double(b)
                }
                let ourNorm = ours.data.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                let err = max(d.squareRoot() / max(n.squareRoot(), 1e-30), abs(ourNorm - norm) / max(norm, 1e-30))
                worst.note("param grads", err, tensor)
                checked.kinds.insert("sampled grads")
                compared.formUnion([tensor + ".sample", tensor + ".norm", tensor + ".index"])
                XCTAssertLessThanOrEqual(err, 1e-3, "\(name): \(tensor) sampled ‖ours − ref‖/‖ref‖ and norm error = \(err)")
                return
            }
            let ref = try f.tensor(named: tensor, expectedShape: ours.shape)
            var d = 0.0, n = 0.0
            for (a, b) in zip(ours.data, ref.data) { d += (Double(a) - Double(b)) * (Double(a) - Double(b)); n += Double(b) * Double(b) }
            let err = d.squareRoot() / max(n.squareRoot(), 1e-30)
            worst.note(kind.hasSuffix("input grads") ? "input grads" : "param grads", err, tensor)
            checked.kinds.insert(kind)
            compared.insert(tensor)
            XCTAssertLessThanOrEqual(err, 1e-3, "\(name): \(tensor) ‖ours − ref‖/‖ref‖ = \(err)")
        }

        try forward("expected.logits", obj.student.logits.value, kind: "logits")
        for (g, group) in obj.student.groups.enumerated() {
            // Full group outputs are large, so generated fixtures store them only in some cases;
            // the attention maps are always there.
            if f.names.contains("expected.group.\(g)") || !generated { try forward("expected.group.\(g)", group.value, kind: "groups") }
            try forward("expected.attention.\(g)", attention(group.detached(), mapping: mapping).value, kind: "attention")
        }
        if let t = obj.teacherLogits { try forward("expected.teacher.logits", t, kind: "teacher logits") }
        else { XCTAssertFalse(f.names.contains("expected.teacher.logits") && method.needsTeacher, "\(name): teacher logits not computed") }
        for (key, value) in student.buffers {
            let stored = "expected.student.\(key)"
            if f.names.contains(stored) { try forward(stored, value, kind: "bn stats") }
            else if generated { XCTFail("\(name): no \(stored)") }
        }
        try forward("expected.loss", obj.loss.value, kind: "losses")
        for part in ["ce", "kd", "at", "factt", "penalty"] where f.names.contains("expected.loss.\(part)") {
            let ours = try XCTUnwrap(obj.parts[part], "\(name): our objective has no '\(part)' part")
            try forward("expected.loss.\(part)", Tensor(scalar: ours), kind: "losses")
            checked.lossParts.insert(part)
        }
        XCTAssertEqual(Set(obj.parts.keys).subtracting(checked.lossParts), [], "\(name): loss parts we compute but the fixture lacks")
        let adapterLeaves = adapters.compactMap { $0 }
        // Frozen parameters have no gradient: only the trainable ones are compared (and stored).
        let trainable = zip(student.parameterNames, obj.parameters).filter { !student.frozenParameterNames.contains($0.0) }
        let grads = try gradients(of: obj.loss, wrt: trainable.map(\.1) + adapterLeaves)
        for ((p, _), g) in zip(trainable, grads) { try gradient("expected.grad.\(p)", g.value, kind: "param grads") }
        for (a, g) in zip(adapterNames, grads.suffix(adapterLeaves.count)) { try gradient("expected.grad.\(a)", g.value, kind: "adapter grads") }
        checked.adapterGradients = adapterLeaves.count
        let gradNames = Set(f.names.filter { $0.hasPrefix("expected.grad.") }.map { name in
            [".sample", ".norm", ".index"].first { name.hasSuffix($0) }.map { String(name.dropLast($0.count)) } ?? name
        })
        XCTAssertEqual(gradNames, Set((student.trainableParameterNames + adapterNames).map { "expected.grad.\($0)" }),
                       "\(name): gradient tensors stored vs parameters and adapters")
        if let j = obj.inputGradient { try gradient("expected.input_grad", j, kind: "input grads") }
        if let j = obj.teacherInputGradient { try gradient("expected.teacher.input_grad", j, kind: "teacher input grads") }
        XCTAssertEqual(Set(f.names.filter { $0.hasPrefix("expected.") }).subtracting(compared).sorted(), [],
                       "\(name): stored expected values that were not checked")
        for (kind, (value, tensor)) in worst.figures.sorted(by: { $0.key < $1.key }) {
            print(String(format: "%@  %-14@ worst %.2e  (%@)", name, kind, value, tensor))
        }
        return checked
    }
}
