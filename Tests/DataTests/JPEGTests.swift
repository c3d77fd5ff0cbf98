import Foundation
import XCTest
@testable import Data

final class JPEGDecodeTests: XCTestCase {
    func testRoundTripKeepsSizeAndIsClose() throws {
        let dir = try temporaryDirectory(self)
        // Smooth, so that 4:2:0 chroma subsampling loses little.
        let picture = PixelImage(width: 37, height: 23) { x, y in (UInt8(x * 6), UInt8(y * 10), UInt8(x * 3 + y * 4)) }
        let path = join(dir, "a.jpg")
        try JPEG.write(picture, to: path, quality: 100)
        XCTAssertEqual(try JPEG.info(path: path), JPEGInfo(width: 37, height: 23, components: 3))
        let decoded = try JPEG.decode(path: path)
        XCTAssertEqual(decoded.width, 37)
        XCTAssertEqual(decoded.height, 23)
        let mean = zip(decoded.pixels, picture.pixels).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(picture.pixels.count)
        XCTAssertLessThan(mean, 2, "quality-100 JPEG should decode close to its source")
    }

    func testGreyJPEGBecomesRGB() throws {
        let dir = try temporaryDirectory(self)
        let path = join(dir, "grey.jpg")
        try JPEG.write(testPicture(width: 16, height: 9), to: path, grey: true)
        XCTAssertEqual(try JPEG.info(path: path).components, 1)
        let decoded = try JPEG.decode(path: path)
        XCTAssertEqual(decoded.pixels.count, 16 * 9 * 3)
        for i in 0..<16 * 9 {
            XCTAssertEqual(decoded.pixels[3 * i], decoded.pixels[3 * i + 1])
            XCTAssertEqual(decoded.pixels[3 * i], decoded.pixels[3 * i + 2])
        }
    }

    func testCorruptFilesThrowNamingTheFile() throws {
        let dir = try temporaryDirectory(self)
        let good = try JPEG.encode(testPicture(width: 64, height: 48), quality: 90)
        let garbage = join(dir, "garbage.jpg"), truncated = join(dir, "truncated.jpg"), empty = join(dir, "empty.jpg")
        let damaged = join(dir, "damaged.jpg")
        try Foundation.Data("this is not a JPEG".utf8).write(to: URL(fileURLWithPath: garbage))
        try Foundation.Data(good.prefix(good.count / 2)).write(to: URL(fileURLWithPath: truncated))
        try Foundation.Data().write(to: URL(fileURLWithPath: empty))
        // A broken frame header: the SOF0 segment claims zero components.
        var header = good
        let sof = try XCTUnwrap((0..<good.count - 10).first { good[$0] == 0xFF && good[$0 + 1] == 0xC0 })
        header[sof + 9] = 0
        try Foundation.Data(header).write(to: URL(fileURLWithPath: damaged))
        assertDataError(try JPEG.decode(path: garbage), mentions: garbage, "cannot decode")
        assertDataError(try JPEG.decode(path: truncated), mentions: truncated, "truncated")
        assertDataError(try JPEG.decode(path: empty), mentions: empty, "cannot decode")
        assertDataError(try JPEG.decode(path: damaged), mentions: damaged, "cannot decode")
        assertDataError(try JPEG.decode(path: join(dir, "absent.jpg")), mentions: join(dir, "absent.jpg"), "not found")
        assertDataError(try JPEG.info(path: garbage), mentions: garbage)
    }
}

/// Pillow, through `ATX_PYTHON`: decodes every JPEG of a folder to raw RGB, writes JPEGs we
/// cannot (CMYK, progressive, 4:4:4), and resizes a raw image to the sizes asked for.
private let pillowScript = """
import glob, os, sys
from PIL import Image
d = sys.argv[1]
w, h = 61, 47
src = Image.new("RGB", (w, h))
src.putdata([((x * 255) // (w - 1), (y * 255) // (h - 1), ((x // 4 + y // 4) % 2) * 160 + 40) for y in range(h) for x in range(w)])
src.save(os.path.join(d, "pillow_progressive.jpg"), quality=85, progressive=True)
src.save(os.path.join(d, "pillow_444.jpg"), quality=95, subsampling=0)
src.convert("CMYK").save(os.path.join(d, "pillow_cmyk.jpg"), quality=90)
src.convert("L").save(os.path.join(d, "pillow_grey.jpg"), quality=90)
for f in sorted(glob.glob(os.path.join(d, "*.jpg"))):
    im = Image.open(f)
    with open(f + ".mode", "w") as out: out.write(im.mode)
    with open(f + ".rgb", "wb") as out: out.write(im.convert("RGB").tobytes())
sw, sh = map(int, open(os.path.join(d, "resize_src.size")).read().split())
raw = Image.frombytes("RGB", (sw, sh), open(os.path.join(d, "resize_src.rgb"), "rb").read())
for line in open(os.path.join(d, "resize_targets.txt")):
    tw, th = map(int, line.split())
    with open(os.path.join(d, "resize_%dx%d.rgb" % (tw, th)), "wb") as out:
        out.write(raw.resize((tw, th), Image.BILINEAR).tobytes())
"""

final class PillowAgreementTests: XCTestCase {
    /// A noisy source so that antialiasing (or its absence) shows in every output pixel.
    let source: PixelImage = {
        var rng = UInt64(12345)
        return PixelImage(width: 173, height: 101) { x, y in
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            let n = UInt8(truncatingIfNeeded: rng >> 56)
            return (UInt8((x * 3 + y) % 256), n, UInt8((x * y) % 256))
        }
    }()
    let targets = [(64, 37), (256, 149), (17, 10), (173, 60), (90, 101), (341, 256), (1, 1), (172, 100)]

    func testDecodingAndResizingMatchPillow() throws {
        let python = try pillowPython()
        let dir = try temporaryDirectory(self)
        let picture = testPicture(width: 61, height: 47)
        try JPEG.write(picture, to: join(dir, "ours_q90.jpg"), quality: 90)
        try JPEG.write(picture, to: join(dir, "ours_q40.jpg"), quality: 40)
        try JPEG.write(testPicture(width: 33, height: 70, seed: 1), to: join(dir, "ours_odd.jpg"), quality: 75)
        try JPEG.write(picture, to: join(dir, "ours_grey.jpg"), quality: 90, grey: true)
        try Foundation.Data(source.pixels).write(to: URL(fileURLWithPath: join(dir, "resize_src.rgb")))
        try "\(source.width) \(source.height)".write(toFile: join(dir, "resize_src.size"), atomically: true, encoding: .utf8)
        try targets.map { "\($0.0) \($0.1)" }.joined(separator: "\n")
            .write(toFile: join(dir, "resize_targets.txt"), atomically: true, encoding: .utf8)
        try runPython(python, pillowScript, [dir])

        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".jpg") }.sorted()
        XCTAssertEqual(files.count, 8)
        XCTAssertEqual(try String(contentsOfFile: join(dir, "pillow_cmyk.jpg.mode"), encoding: .utf8), "CMYK")
        XCTAssertEqual(try JPEG.info(path: join(dir, "pillow_cmyk.jpg")).components, 4)
        for name in files {
            let ours = try JPEG.decode(path: join(dir, name))
            let theirs = try contents(join(dir, name + ".rgb"))
            let difference = maxDifference(ours.pixels, theirs)
            print("decoding \(name): largest difference from Pillow \(difference)")
            XCTAssertLessThanOrEqual(difference, 1, "\(name): our decoding differs from Pillow's")
        }
        for (w, h) in targets {
            let ours = source.resized(width: w, height: h)
            let theirs = try contents(join(dir, "resize_\(w)x\(h).rgb"))
            let difference = maxDifference(ours.pixels, theirs)
            print("resize to \(w)×\(h): largest difference from Pillow \(difference)")
            XCTAssertLessThanOrEqual(difference, 1, "resize to \(w)×\(h) differs from Pillow's BILINEAR")
        }
    }
}
