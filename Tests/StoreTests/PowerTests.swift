import Foundation
import GRDB
@testable import Store
import XCTest

/// The seeds-needed figure of `cell_effect`: the power of the two-sided paired t test, its
/// thresholds, and the sample sizes of published power tables.
final class PowerTests: XCTestCase {
    /// G*Power 3.1 ("t tests — difference from constant (one sample case)", two tails, α 0.05,
    /// power 0.80) gives these total sample sizes for effect sizes d_z; scipy.stats.nct agrees.
    func testSeedsNeededMatchPublishedPowerTables() {
        for (dz, n) in [(0.1, 787), (0.15, 351), (0.2, 199), (0.3, 90), (0.5, 34), (0.8, 15), (1.0, 10), (1.5, 6), (2.0, 5), (3.0, 4), (5.0, 3)] {
            XCTAssertEqual(PairedPower.seedsNeeded(effect: -dz, sd: 1), n, "d_z \(dz)")
            XCTAssertEqual(PairedPower.seedsNeeded(effect: 2 * dz, sd: 2), n, "d_z \(dz), scaled")
        }
        XCTAssertEqual(PairedPower.seedsNeeded(effect: -0.84, sd: 0), 2, "no spread: the fewest seeds a t test has")
        XCTAssertNil(PairedPower.seedsNeeded(effect: 0, sd: 1), "a zero effect cannot be detected")
    }

    /// The stored thresholds are what `threshold(n:)` computes, and give the power they promise
    /// (scipy.stats.nct: 16.3340088699 for n = 2, 3.1496328865 for n = 10, 2.8151925664 for n = 200).
    func testThresholdsAreRecomputedAndReachPowerPointEight() {
        XCTAssertEqual(PairedPower.thresholds.count, PairedPower.tabulated - 1)
        for n in [2, 3, 5, 10, 34, 100, 200] {
            XCTAssertEqual(PairedPower.thresholds[n - 2], PairedPower.threshold(n: n), accuracy: 1e-8, "n \(n)")
            XCTAssertEqual(PairedPower.power(n: n, lambda: PairedPower.thresholds[n - 2]), 0.8, accuracy: 1e-8, "n \(n)")
        }
        for (n, expected) in [(2, 16.3340088699), (10, 3.1496328865), (200, 2.8151925664)] {
            XCTAssertEqual(PairedPower.thresholds[n - 2], expected, accuracy: 1e-9)
        }
        XCTAssertTrue(zip(PairedPower.thresholds, PairedPower.thresholds.dropFirst()).allSatisfy { $0 > $1 }, "decreasing in n")
        // Power against an independent value: scipy.stats.nct gives 0.80777750128 for n = 34, d_z = 0.5.
        XCTAssertEqual(PairedPower.power(n: 34, lambda: 0.5 * 34.0.squareRoot()), 0.80777750128, accuracy: 1e-9)
    }
}
