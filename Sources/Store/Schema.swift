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
        // The OpenBLAS kernel set the run's last attempt computed with, and why (BLASKernels).
        migrator.registerMigration("v3-runs-blas-kernels") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN blas_kernels TEXT")
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
}
