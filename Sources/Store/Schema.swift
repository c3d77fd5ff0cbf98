import GRDB

/// The schema, as named forward-only migrations. A released migration is never edited:
/// change the schema by appending a new one.
enum Schema {
    /// `PRAGMA application_id` of every atx database: "atx\0".
    static let applicationID: Int32 = 0x6174_7800

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-initial") { db in
            try db.execute(sql: v1Tables + v1Views)
            try db.execute(sql: "PRAGMA application_id = \(applicationID)")
        }
        migrator.registerMigration("v2-cell-effect") { db in
            try db.execute(sql: v2TQuantiles)
            for df in 1...StudentT.tabulated {
                try db.execute(sql: "INSERT INTO t_quantiles (df, t_975) VALUES (?, ?)",
                               arguments: [df, StudentT.quantile975(df: df)])
            }
            try db.execute(sql: v2CellEffect)
        }
        // The OpenBLAS kernel set the run's last attempt computed with, and why (BLASKernels).
        migrator.registerMigration("v3-runs-blas-kernels") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN blas_kernels TEXT")
        }
        // Each cell says what it is (the row's baseline, a method, or the teacher column), as the
        // grid decided it; `cell_effect` reads that column instead of parsing labels.
        migrator.registerMigration("v4-cell-roles") { db in
            try db.execute(sql: v4CellRoles)
            try db.execute(sql: "DROP VIEW cell_effect")
            try db.execute(sql: v4CellEffect)
        }
        migrator.registerMigration("v5-database-identity-and-data") { db in
            try db.execute(sql: v5IdentityAndData)
        }
        // The exact paired test and the seeds needed to see the paper's effect (issue 21).
        migrator.registerMigration("v6-effect-tests") { db in
            try db.execute(sql: v6PaperErrorsAndPower)
            for (i, lambda) in PairedPower.thresholds.enumerated() {
                try db.execute(sql: "INSERT INTO power_thresholds (n, lambda_80) VALUES (?, ?)", arguments: [i + 2, lambda])
            }
            try db.execute(sql: "DROP VIEW cell_effect")
            try db.execute(sql: v6CellEffect)
        }
        // β per epoch (its schedule) and top-5 test error (ImageNet) in the curves (issue 18).
        migrator.registerMigration("v7-epoch-beta-top5") { db in
            try db.execute(sql: """
                ALTER TABLE epochs ADD COLUMN beta REAL;
                ALTER TABLE epochs ADD COLUMN test_top5_error REAL;
                ALTER TABLE runs ADD COLUMN final_test_top5_error REAL;
                DROP VIEW cell_summary;
                DROP VIEW run_final;
                """)
            try db.execute(sql: v7Views)
        }
        return migrator
    }()

    static let knownMigrations: [String] = migrator.migrations

    private static let v1Tables = """
        CREATE TABLE grids (
            name TEXT NOT NULL PRIMARY KEY,
            spec_path TEXT NOT NULL,
            spec_json TEXT NOT NULL,
            profile TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE runs (
            key TEXT NOT NULL PRIMARY KEY,
            config_json TEXT NOT NULL,
            student TEXT NOT NULL,
            teacher TEXT,
            teacher_key TEXT REFERENCES runs(key),
            method TEXT NOT NULL,
            seed INTEGER NOT NULL,
            dataset TEXT NOT NULL,
            profile TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'interrupted')),
            host TEXT,
            pid INTEGER,
            git_commit TEXT,
            threads INTEGER,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            heartbeat_at TEXT,
            failure TEXT,
            epochs_done INTEGER NOT NULL DEFAULT 0 CHECK (epochs_done >= 0),
            epochs_total INTEGER NOT NULL CHECK (epochs_total >= 0),
            final_test_error REAL,
            best_test_error REAL,
            wall_seconds REAL,
            run_directory TEXT,
            checkpoint_path TEXT
        );
        -- Metrics are NULL where the value was NaN (a diverged run): SQLite stores NaN as NULL.
        CREATE TABLE epochs (
            run_key TEXT NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
            epoch INTEGER NOT NULL CHECK (epoch >= 1),
            train_loss REAL,
            train_error REAL,
            test_loss REAL,
            test_error REAL,
            learning_rate REAL,
            seconds REAL,
            images_per_second REAL,
            parts_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(parts_json)),
            PRIMARY KEY (run_key, epoch)
        );
        CREATE TABLE cells (
            grid TEXT NOT NULL REFERENCES grids(name) ON DELETE CASCADE,
            row_index INTEGER NOT NULL,
            column_index INTEGER NOT NULL,
            row_label TEXT NOT NULL,
            column_label TEXT NOT NULL,
            seed INTEGER NOT NULL,
            run_key TEXT NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
            PRIMARY KEY (grid, row_index, column_index, seed)
        );
        CREATE INDEX cells_run_key ON cells(run_key);

        """

    /// v1's `run_final` and `cell_summary` with the top-5 error beside the top-1 (NULL where a run
    /// has none: every dataset of fewer than six classes, and runs before v7).
    private static let v7Views = """
        -- One row per run: what it is and how it ended.
        CREATE VIEW run_final AS
        SELECT key, student, teacher, method, seed, dataset, profile, status,
               final_test_error, best_test_error, epochs_done, epochs_total, wall_seconds, final_test_top5_error
        FROM runs;

        -- One row per table cell: seeds by status, and the spread of the done runs' final test
        -- errors, with the median of their top-5 errors. Quantile p interpolates linearly between
        -- order statistics (numpy's default): the i-th smallest of n (i from 0) weighs
        -- max(0, 1 - |i - p(n - 1)|), so the median is the middle value or the mean of the middle two.
        CREATE VIEW cell_summary AS
        WITH cell_runs AS (
            SELECT cells.grid, cells.row_index, cells.column_index, cells.row_label, cells.column_label,
                   runs.status, CASE WHEN runs.status = 'done' THEN runs.final_test_error END AS error,
                   CASE WHEN runs.status = 'done' THEN runs.final_test_top5_error END AS top5
            FROM cells JOIN runs ON runs.key = cells.run_key
        ),
        ranked AS (
            SELECT grid, row_index, column_index, error,
                   ROW_NUMBER() OVER (cell ORDER BY error) - 1 AS i,
                   COUNT(*) OVER cell - 1 AS last
            FROM cell_runs
            WHERE error IS NOT NULL
            WINDOW cell AS (PARTITION BY grid, row_index, column_index)
        ),
        quantiles AS (
            SELECT grid, row_index, column_index,
                   SUM(error * MAX(0, 1 - ABS(i - 0.25 * last))) AS q1,
                   SUM(error * MAX(0, 1 - ABS(i - 0.5 * last))) AS median,
                   SUM(error * MAX(0, 1 - ABS(i - 0.75 * last))) AS q3
            FROM ranked
            GROUP BY grid, row_index, column_index
        ),
        ranked5 AS (
            SELECT grid, row_index, column_index, top5,
                   ROW_NUMBER() OVER (cell ORDER BY top5) - 1 AS i,
                   COUNT(*) OVER cell - 1 AS last
            FROM cell_runs
            WHERE top5 IS NOT NULL
            WINDOW cell AS (PARTITION BY grid, row_index, column_index)
        ),
        top5 AS (
            SELECT grid, row_index, column_index, SUM(top5 * MAX(0, 1 - ABS(i - 0.5 * last))) AS top5_median
            FROM ranked5
            GROUP BY grid, row_index, column_index
        )
        SELECT grid, row_index, column_index, row_label, column_label,
               COUNT(*) AS seeds,
               SUM(status = 'done') AS done,
               SUM(status = 'failed') AS failed,
               SUM(status = 'running') AS running,
               median, MIN(error) AS min, MAX(error) AS max, q1, q3, top5_median
        FROM cell_runs LEFT JOIN quantiles USING (grid, row_index, column_index)
                       LEFT JOIN top5 USING (grid, row_index, column_index)
        GROUP BY grid, row_index, column_index;
        """

    private static let v1Views = """
        -- One row per run: what it is and how it ended.
        CREATE VIEW run_final AS
        SELECT key, student, teacher, method, seed, dataset, profile, status,
               final_test_error, best_test_error, epochs_done, epochs_total, wall_seconds
        FROM runs;

        -- Distinct runs per grid and status (a run serving several cells counts once).
        CREATE VIEW grid_status AS
        SELECT cells.grid, runs.status, COUNT(DISTINCT runs.key) AS runs
        FROM cells JOIN runs ON runs.key = cells.run_key
        GROUP BY cells.grid, runs.status;

        -- One row per table cell: seeds by status, and the spread of the done runs' final test
        -- errors. Quantile p interpolates linearly between order statistics (numpy's default):
        -- the i-th smallest of n (i from 0) weighs max(0, 1 - |i - p(n - 1)|), so the median is
        -- the middle value or the mean of the middle two.
        CREATE VIEW cell_summary AS
        WITH cell_runs AS (
            SELECT cells.grid, cells.row_index, cells.column_index, cells.row_label, cells.column_label,
                   runs.status, CASE WHEN runs.status = 'done' THEN runs.final_test_error END AS error
            FROM cells JOIN runs ON runs.key = cells.run_key
        ),
        ranked AS (
            SELECT grid, row_index, column_index, error,
                   ROW_NUMBER() OVER (cell ORDER BY error) - 1 AS i,
                   COUNT(*) OVER cell - 1 AS last
            FROM cell_runs
            WHERE error IS NOT NULL
            WINDOW cell AS (PARTITION BY grid, row_index, column_index)
        ),
        quantiles AS (
            SELECT grid, row_index, column_index,
                   SUM(error * MAX(0, 1 - ABS(i - 0.25 * last))) AS q1,
                   SUM(error * MAX(0, 1 - ABS(i - 0.5 * last))) AS median,
                   SUM(error * MAX(0, 1 - ABS(i - 0.75 * last))) AS q3
            FROM ranked
            GROUP BY grid, row_index, column_index
        )
        SELECT grid, row_index, column_index, row_label, column_label,
               COUNT(*) AS seeds,
               SUM(status = 'done') AS done,
               SUM(status = 'failed') AS failed,
               SUM(status = 'running') AS running,
               median, MIN(error) AS min, MAX(error) AS max, q1, q3
        FROM cell_runs LEFT JOIN quantiles USING (grid, row_index, column_index)
        GROUP BY grid, row_index, column_index;
        """

    // MARK: - v2-cell-effect

    /// Before v4, the row's student was read off the row's label: the part before " ← ".
    private static let rowStudentFromLabel = """
        CASE WHEN instr(cells.row_label, ' ← ') > 0 THEN substr(cells.row_label, 1, instr(cells.row_label, ' ← ') - 1) \
        ELSE cells.row_label END
        """

    private static let v2TQuantiles = """
        -- t_{0.975, df}: the two-sided 95% critical value of Student's t with df degrees of freedom,
        -- for df 1…\(StudentT.tabulated); `cell_effect` uses an expansion beyond.
        CREATE TABLE t_quantiles (
            df INTEGER NOT NULL PRIMARY KEY CHECK (df >= 1),
            t_975 REAL NOT NULL
        );
        """

    /// Is the method better than the row's plain student, here? Pairs each cell's done runs with
    /// the baseline's of the same seed (which share the initialisation, batches and subset).
    private static let v2CellEffect = """
        -- One row per table cell other than its row's baseline: the effect of the column's method,
        -- paired by seed. The baseline of a row is its column training the row's student (the
        -- part of row_label before " ← ") with plain cross-entropy (method ce); a row without
        -- one has no effects. For each seed done in both the cell and the baseline,
        -- d = error(cell) - error(baseline), in percentage points (negative: the method's error
        -- is lower). mean_difference is the mean of d over the seeds_paired seeds, sd_difference
        -- their standard deviation (n - 1 in the denominator), and [ci_low, ci_high] the 95%
        -- interval mean ± t_{0.975, n-1} sd / sqrt(n), NULL with fewer than 2 paired seeds.
        -- seeds_better / seeds_worse count the seeds with d < 0 / d > 0. A teacher column
        -- (network 'teacher') reads as the teacher's gap over the student.
        CREATE VIEW cell_effect AS
        WITH cell_runs AS (
            SELECT cells.grid, cells.row_index, cells.column_index, cells.row_label, cells.column_label,
                   cells.seed, runs.student, runs.method, runs.status,
                   CASE WHEN runs.status = 'done' THEN runs.final_test_error END AS error,
                   \(rowStudentFromLabel) AS row_student
            FROM cells JOIN runs ON runs.key = cells.run_key
        ),
        baselines AS (
            SELECT grid, row_index, MIN(column_index) AS baseline_column
            FROM cell_runs
            WHERE method = 'ce' AND student = row_student
            GROUP BY grid, row_index
        ),
        statuses AS (
            SELECT grid, row_index, column_index, row_label, column_label,
                   CASE WHEN MAX(student <> row_student) THEN 'teacher' ELSE 'student' END AS network,
                   COUNT(*) AS seeds, SUM(status = 'done') AS done, SUM(status = 'failed') AS failed
            FROM cell_runs
            GROUP BY grid, row_index, column_index
        ),
        \(cellEffectStatistics)
        """

    /// The part of `cell_effect` that every version shares: the paired differences, their mean,
    /// spread and interval, and the columns it returns (from the CTEs `cell_runs`, `baselines` and
    /// `statuses` before it).
    private static let cellEffectStatistics = cellEffectTail(tests: false)

    /// `cellEffectStatistics`, and with `tests` (v6) also the exact sign-flip test of the paired
    /// differences, the paper's effect and the seeds needed to detect it (`statuses` then has
    /// `paper_error`).
    private static func cellEffectTail(tests: Bool) -> String {
        let testCTEs = !tests ? "" : """
        ,
        -- The exact sign-flip (paired permutation) test: each of the 2^n patterns of signs on the n
        -- differences, and the share of them whose |sum| is at least the observed one (ties
        -- within 1e-9 count); computed for up to \(maxSignFlipSeeds) paired seeds.
        indexed AS (
            SELECT grid, row_index, column_index, d,
                   ROW_NUMBER() OVER (PARTITION BY grid, row_index, column_index ORDER BY seed) - 1 AS i
            FROM pairs
        ),
        patterns(p) AS (
            SELECT 0
            UNION ALL
            SELECT p + 1 FROM patterns
            WHERE p + 1 < (SELECT 1 << MIN(COALESCE(MAX(n), 0), \(maxSignFlipSeeds)) FROM means)
        ),
        flipped AS (
            SELECT m.grid, m.row_index, m.column_index, pt.p,
                   ABS(SUM(CASE WHEN (pt.p >> x.i) & 1 THEN -x.d ELSE x.d END)) AS s
            FROM means AS m
            JOIN patterns AS pt ON pt.p < (1 << m.n)
            JOIN indexed AS x ON x.grid = m.grid AND x.row_index = m.row_index AND x.column_index = m.column_index
            WHERE m.n <= \(maxSignFlipSeeds)
            GROUP BY m.grid, m.row_index, m.column_index, pt.p
        ),
        sign_flips AS (
            SELECT f.grid, f.row_index, f.column_index,
                   CAST(SUM(f.s >= ABS(m.mean * m.n) - 1e-9) AS REAL) / COUNT(*) AS p
            FROM flipped AS f
            JOIN means AS m ON m.grid = f.grid AND m.row_index = f.row_index AND m.column_index = f.column_index
            GROUP BY f.grid, f.row_index, f.column_index
        )
        """
        let effect = "(s.paper_error - base.paper_error)"
        let testColumns = !tests ? "" : """
        ,
               sf.p AS p_sign_flip,
               \(effect) AS paper_effect,
               CASE WHEN e.n >= 2 AND \(effect) <> 0 THEN
                   CASE WHEN e.sd = 0 THEN 2
                        ELSE COALESCE((SELECT MIN(n) FROM power_thresholds
                                       WHERE abs(\(effect)) * sqrt(n) / e.sd >= lambda_80),
                                      \(PairedPower.beyondTableSQL(effect: effect, sd: "e.sd"))) END
               END AS seeds_needed
        """
        let testJoin = !tests ? "" : """

        LEFT JOIN sign_flips AS sf ON sf.grid = s.grid AND sf.row_index = s.row_index AND sf.column_index = s.column_index
        """
        return """
        pairs AS (
            SELECT m.grid, m.row_index, m.column_index, \(tests ? "m.seed, " : "")m.error - b.error AS d
            FROM cell_runs AS m
            JOIN baselines ON baselines.grid = m.grid AND baselines.row_index = m.row_index
            JOIN cell_runs AS b ON b.grid = m.grid AND b.row_index = m.row_index
                               AND b.column_index = baselines.baseline_column AND b.seed = m.seed
            WHERE m.column_index <> baselines.baseline_column AND m.error IS NOT NULL AND b.error IS NOT NULL
        ),
        means AS (
            SELECT grid, row_index, column_index, COUNT(*) AS n, AVG(d) AS mean,
                   SUM(d < 0) AS better, SUM(d > 0) AS worse
            FROM pairs
            GROUP BY grid, row_index, column_index
        ),
        spreads AS (
            SELECT grid, row_index, column_index, n, mean, better, worse,
                   CASE WHEN n > 1 THEN sqrt(SUM((d - mean) * (d - mean)) / (n - 1)) END AS sd,
                   CASE WHEN n > 1 THEN COALESCE((SELECT t_975 FROM t_quantiles WHERE df = n - 1),
                                                 \(StudentT.largeDFSQL("n - 1"))) END AS t
            FROM pairs JOIN means USING (grid, row_index, column_index)
            GROUP BY grid, row_index, column_index
        )\(testCTEs)
        SELECT s.grid, s.row_index, s.column_index, s.row_label, s.column_label, s.network,
               baselines.baseline_column, base.column_label AS baseline_label,
               s.seeds, s.done, s.failed, base.done AS baseline_done, base.failed AS baseline_failed,
               COALESCE(e.n, 0) AS seeds_paired,
               e.mean AS mean_difference, e.sd AS sd_difference, e.t AS t_quantile,
               e.mean - e.t * e.sd / sqrt(e.n) AS ci_low,
               e.mean + e.t * e.sd / sqrt(e.n) AS ci_high,
               COALESCE(e.better, 0) AS seeds_better, COALESCE(e.worse, 0) AS seeds_worse,
               CASE WHEN e.t IS NOT NULL
                    THEN e.mean + e.t * e.sd / sqrt(e.n) < 0 OR e.mean - e.t * e.sd / sqrt(e.n) > 0 END
                   AS ci_excludes_zero\(testColumns)
        FROM statuses AS s
        JOIN baselines ON baselines.grid = s.grid AND baselines.row_index = s.row_index
        JOIN statuses AS base ON base.grid = s.grid AND base.row_index = s.row_index
                             AND base.column_index = baselines.baseline_column
        LEFT JOIN spreads AS e ON e.grid = s.grid AND e.row_index = s.row_index AND e.column_index = s.column_index\(testJoin)
        WHERE s.column_index <> baselines.baseline_column;
        """
    }

    /// The largest number of paired seeds whose 2^n sign patterns the view enumerates.
    public static let maxSignFlipSeeds = 16

    // MARK: - v4-cell-roles

    /// The new column, filled for cells recorded before it by the rule the v2 view applied: the
    /// teacher column trains another network than the row's student (the part of row_label before
    /// " ← "); the baseline is the row's first column training that student with cross-entropy.
    private static let v4CellRoles = """
        ALTER TABLE cells ADD COLUMN role TEXT NOT NULL DEFAULT 'method'
            CHECK (role IN ('baseline', 'method', 'teacher'));
        WITH labelled AS (
            SELECT cells.rowid AS id, cells.grid, cells.row_index, cells.column_index, runs.student, runs.method,
                   \(rowStudentFromLabel) AS row_student
            FROM cells JOIN runs ON runs.key = cells.run_key
        )
        UPDATE cells SET role = 'teacher'
        WHERE rowid IN (SELECT id FROM labelled WHERE student <> row_student);
        WITH labelled AS (
            SELECT cells.grid, cells.row_index, cells.column_index, runs.student, runs.method,
                   \(rowStudentFromLabel) AS row_student
            FROM cells JOIN runs ON runs.key = cells.run_key
        ),
        baselines AS (
            SELECT grid, row_index, MIN(column_index) AS column_index
            FROM labelled WHERE method = 'ce' AND student = row_student
            GROUP BY grid, row_index
        )
        UPDATE cells SET role = 'baseline'
        WHERE (grid, row_index, column_index) IN (SELECT grid, row_index, column_index FROM baselines);
        """

    /// As v2's view, with the baseline and the teacher column read from `cells.role`.
    private static let v4CellEffect = """
        -- One row per table cell other than its row's baseline: the effect of the column's method,
        -- paired by seed. The baseline of a row is its cell whose role is 'baseline' (the row's
        -- student trained with plain cross-entropy, as the grid decided); a row without one has no
        -- effects. For each seed done in both the cell and the baseline,
        -- d = error(cell) - error(baseline), in percentage points (negative: the method's error
        -- is lower). mean_difference is the mean of d over the seeds_paired seeds, sd_difference
        -- their standard deviation (n - 1 in the denominator), and [ci_low, ci_high] the 95%
        -- interval mean ± t_{0.975, n-1} sd / sqrt(n), NULL with fewer than 2 paired seeds.
        -- seeds_better / seeds_worse count the seeds with d < 0 / d > 0. A teacher column
        -- (role 'teacher', network 'teacher') reads as the teacher's gap over the student.
        CREATE VIEW cell_effect AS
        WITH cell_runs AS (
            SELECT cells.grid, cells.row_index, cells.column_index, cells.row_label, cells.column_label,
                   cells.seed, cells.role, runs.status,
                   CASE WHEN runs.status = 'done' THEN runs.final_test_error END AS error
            FROM cells JOIN runs ON runs.key = cells.run_key
        ),
        baselines AS (
            SELECT grid, row_index, MIN(column_index) AS baseline_column
            FROM cell_runs
            WHERE role = 'baseline'
            GROUP BY grid, row_index
        ),
        statuses AS (
            SELECT grid, row_index, column_index, row_label, column_label,
                   CASE WHEN MAX(role = 'teacher') THEN 'teacher' ELSE 'student' END AS network,
                   COUNT(*) AS seeds, SUM(status = 'done') AS done, SUM(status = 'failed') AS failed
            FROM cell_runs
            GROUP BY grid, row_index, column_index
        ),
        \(cellEffectStatistics)
        """

    // MARK: - v5-database-identity-and-data

    /// Every database names itself (its runs' checkpoints carry the name, so another database never
    /// adopts them), and every run records the fingerprint of the data it read.
    private static let v5IdentityAndData = """
        CREATE TABLE database_identity (
            id TEXT NOT NULL PRIMARY KEY
        );
        INSERT INTO database_identity (id) VALUES (lower(hex(randomblob(16))));
        ALTER TABLE runs ADD COLUMN data_fingerprint TEXT;
        """

    // MARK: - v6-effect-tests

    /// The paper's error per cell (from the grid; NULL where the paper has none), and the power
    /// thresholds behind `seeds_needed`.
    private static let v6PaperErrorsAndPower = """
        ALTER TABLE cells ADD COLUMN paper_error REAL;
        -- lambda_80: the noncentrality at which a two-sided paired t test at level 0.05 with n pairs
        -- reaches power 0.8 (PairedPower.threshold); a cell needs the smallest n with
        -- |paper_effect| * sqrt(n) / sd_difference >= lambda_80.
        CREATE TABLE power_thresholds (
            n INTEGER NOT NULL PRIMARY KEY CHECK (n >= 2),
            lambda_80 REAL NOT NULL
        );
        """

    /// v4's view with three more columns: `p_sign_flip`, the exact paired sign-flip test's p-value
    /// (all 2^n sign patterns; NULL with no paired seed or more than `maxSignFlipSeeds`; it cannot
    /// go below 2/2^n); `paper_effect`, the paper's error for the cell minus its error for the
    /// baseline; `seeds_needed`, how many paired seeds a two-sided paired t test at level 0.05 needs
    /// to detect the paper's effect with power 0.8 at the standard deviation of the differences
    /// observed here (NULL with fewer than 2 paired seeds or no paper effect).
    private static let v6CellEffect = """
        -- As v4's view (see there), and: p_sign_flip, the exact sign-flip test's p over the paired
        -- differences (2^n patterns, n <= \(maxSignFlipSeeds)); paper_effect, the paper's error for
        -- the cell minus its error for the row's baseline; seeds_needed, the paired seeds a two-sided
        -- paired t test (alpha 0.05, power 0.8) needs to detect paper_effect at sd_difference
        -- (power_thresholds up to n = \(PairedPower.tabulated), Guenther's approximation beyond).
        CREATE VIEW cell_effect AS
        WITH cell_runs AS (
            SELECT cells.grid, cells.row_index, cells.column_index, cells.row_label, cells.column_label,
                   cells.seed, cells.role, cells.paper_error, runs.status,
                   CASE WHEN runs.status = 'done' THEN runs.final_test_error END AS error
            FROM cells JOIN runs ON runs.key = cells.run_key
        ),
        baselines AS (
            SELECT grid, row_index, MIN(column_index) AS baseline_column
            FROM cell_runs
            WHERE role = 'baseline'
            GROUP BY grid, row_index
        ),
        statuses AS (
            SELECT grid, row_index, column_index, row_label, column_label,
                   CASE WHEN MAX(role = 'teacher') THEN 'teacher' ELSE 'student' END AS network,
                   MAX(paper_error) AS paper_error,
                   COUNT(*) AS seeds, SUM(status = 'done') AS done, SUM(status = 'failed') AS failed
            FROM cell_runs
            GROUP BY grid, row_index, column_index
        ),
        \(cellEffectTail(tests: true))
        """
}
