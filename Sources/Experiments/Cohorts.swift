// Which runs train together in one worker (`Cohort`): the students of one seed that read only the
// teacher's forward (AT, KD, AT+KD, F-ActT) from the same teacher run, on the same batches; and
// which workers the local runner starts first. The runner, the worker and the plan's estimate
// follow these rules, so the plan simulates what the runner does.
import Training

public struct CohortKey: Hashable, Sendable {
    let teacherKey: String
    let lockstep: RunConfig
}

public enum Cohorts {
    /// The cohort `config` trains in with teacher run `teacherKey`; nil: it trains alone (no
    /// teacher, or a method that needs more of it than its forward, such as grad-AT).
    public static func key(_ config: RunConfig, teacherKey: String?) -> CohortKey? {
        guard let teacherKey, config.method.readsTeacherForward else { return nil }
        return CohortKey(teacherKey: teacherKey, lockstep: config.lockstepConfig)
    }

    /// `items` grouped by `key`, in the order of each group's first item (an item without key
    /// alone). While there are fewer groups than `processes`, the largest is split in two, so
    /// that cores do not idle while one process trains a whole cohort.
    public static func group<T>(_ items: [T], processes: Int = 1, key: (T) -> CohortKey?) -> [[T]] {
        var groups: [[T]] = [], index: [CohortKey: Int] = [:]
        for item in items {
            if let k = key(item), let g = index[k] {
                groups[g].append(item)
            } else {
                if let k = key(item) { index[k] = groups.count }
                groups.append([item])
            }
        }
        while groups.count < processes, let g = groups.indices.max(by: { groups[$0].count < groups[$1].count }),
              groups[g].count > 1 {
            let half = groups[g].count / 2
            groups.insert(Array(groups[g][half...]), at: g + 1)
            groups[g] = Array(groups[g][..<half])
        }
        return groups
    }
}

extension GridRunner {
    /// The workers to start now in `free` job slots, from the runs that may start: the runs on the
    /// longest chain of work first (`priority`: a run's seconds plus its longest chain of
    /// students), so a slow teacher is not left for last with its students behind it; a teacher's
    /// students of one seed in one worker, split rather than leave a slot idle.
    public static func nextWorkers(_ startable: [PlannedRun], free: Int, priority: [String: Double]) -> [[PlannedRun]] {
        guard free > 0 else { return [] }
        let ordered = startable.enumerated().sorted { a, b in
            let (pa, pb) = (priority[a.element.key] ?? 0, priority[b.element.key] ?? 0)
            return pa != pb ? pa > pb : a.offset < b.offset
        }.map(\.element)
        return Array(Cohorts.group(ordered, processes: free) { Cohorts.key($0.config, teacherKey: $0.teacherKey) }.prefix(free))
    }
}
