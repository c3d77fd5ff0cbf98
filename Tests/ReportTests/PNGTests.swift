import Foundation
@testable import Report
import XCTest

final class PNGTests: XCTestCase {
    /// A small independent decoder: checks the signature, every chunk's CRC, IHDR, inflates the
    /// IDAT data, undoes the five filter types and prints the pixels as hex.
    static let decoder = #"""
        import struct, sys, zlib
        data = open(sys.argv[1], "rb").read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", "bad signature"
        pos, idat, chunks = 8, b"", []
        while pos < len(data):
            length, kind = struct.unpack(">I4s", data[pos:pos + 8])
            body = data[pos + 8:pos + 8 + length]
            crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
            assert zlib.crc32(kind + body) & 0xffffffff == crc, "bad CRC in " + kind.decode()
            chunks.append(kind.decode())
            if kind == b"IHDR": w, h, depth, ctype, comp, filt, inter = struct.unpack(">IIBBBBB", body)
            if kind == b"IDAT": idat += body
            pos += 12 + length
        assert chunks[0] == "IHDR" and chunks[-1] == "IEND", chunks
        assert (depth, ctype, comp, filt, inter) == (8, 2, 0, 0, 0)
        raw, stride, out, prev = zlib.decompress(idat), w * 3, bytearray(), bytearray(w * 3)
        for y in range(h):
            f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
            for i in range(stride):
                a = line[i - 3] if i >= 3 else 0
                b, c = prev[i], prev[i - 3] if i >= 3 else 0
                p = a + b - c
                pr = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c
                line[i] = (line[i] + [0, a, b, (a + b) // 2, pr][f]) & 0xff
            out += line
            prev = line
        print(w, h, out.hex())
        """#

    func testPNGDecodesBackToTheSamePixelsInPython() throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
        guard let python = path.split(separator: ":").map({ "\($0)/python3" })
            .first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("python3 is missing: cannot decode the PNG independently")
        }
        var image = RGBImage(width: 37, height: 23)
        for y in 0..<image.height {
            for x in 0..<image.width { image[x, y] = RGB(UInt8(x * 7 % 256), UInt8(y * 11 % 256), UInt8((x * y) % 256)) }
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atx-png-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("test.png").path, script = dir.appendingPathComponent("decode.py").path
        try PNG.write(image, to: file)
        try Self.decoder.write(toFile: script, atomically: true, encoding: .utf8)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, file]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, complaint)
        let hex = image.pixels.map { String(format: "%02x", $0) }.joined()
        XCTAssertEqual(printed.trimmingCharacters(in: .whitespacesAndNewlines), "37 23 \(hex)")
    }

    func testCRCAndChunkLayout() {
        XCTAssertEqual(PNG.crc32(Array("IEND".utf8)), 0xAE42_6082)
        XCTAssertEqual(PNG.chunk("IEND", []), [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
        let png = PNG.encode(RGBImage(width: 2, height: 1))
        XCTAssertEqual(Array(png.prefix(16)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8))
        XCTAssertEqual(Array(png[16..<29]), [0, 0, 0, 2, 0, 0, 0, 1, 8, 2, 0, 0, 0])
        XCTAssertEqual(Array(png.suffix(12)), PNG.chunk("IEND", []))
    }

    func testColormapsEndsAndMiddle() {
        XCTAssertEqual(Colormap.viridis.color(0), RGB(0x44, 0x01, 0x54))
        XCTAssertEqual(Colormap.viridis.color(1), RGB(0xFD, 0xE7, 0x25))
        XCTAssertEqual(Colormap.viridis.color(0.5), RGB(0x21, 0x91, 0x8C))
        XCTAssertEqual(Colormap.jet.color(0), RGB(0, 0, 128))
        XCTAssertEqual(Colormap.jet.color(0.5), RGB(128, 255, 128))
        XCTAssertEqual(Colormap.jet.color(1), RGB(128, 0, 0))
        XCTAssertEqual(Colormap.gray.color(2), RGB(255, 255, 255), "clamped")
    }

    func testHeatMapResamplingAndGrid() {
        // A 2×1 map upscaled to 4×1: nearest repeats, bilinear interpolates between pixel centres.
        let nearest = RGBImage(heatMap: [0, 1], width: 2, height: 1, colormap: .gray, size: (4, 1), resampling: .nearest)
        XCTAssertEqual((0..<4).map { nearest[$0, 0].r }, [0, 0, 255, 255])
        let bilinear = RGBImage(heatMap: [0, 1], width: 2, height: 1, colormap: .gray, size: (4, 1))
        XCTAssertEqual((0..<4).map { bilinear[$0, 0].r }, [0, 64, 191, 255])
        // A fixed range maps values outside it to the colormap's ends.
        let ranged = RGBImage(heatMap: [-1, 0.5, 2], width: 3, height: 1, colormap: .gray, range: 0...1)
        XCTAssertEqual((0..<3).map { ranged[$0, 0].r }, [0, 128, 255])

        let input = RGBImage(planar: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0], channels: 3, width: 2, height: 2)
        XCTAssertEqual([input[0, 0], input[1, 0], input[0, 1]], [RGB(255, 0, 0), RGB(0, 255, 0), RGB(0, 0, 255)])
        let tile = input.resized(width: 4, height: 4, .nearest).framed(.black, thickness: 1)
        XCTAssertEqual(tile.width, 6)
        XCTAssertEqual(tile[0, 0], .black)
        XCTAssertEqual(tile[1, 1], RGB(255, 0, 0))
        let grid = RGBImage.grid([[tile, nil], [input, .colorbar(.jet, width: 2, height: 6)]], padding: 2)
        XCTAssertEqual([grid.width, grid.height], [2 + 6 + 2 + 2 + 2, 2 + 6 + 2 + 6 + 2], "columns as wide as their widest tile")
        XCTAssertEqual(grid[3, 3], RGB(255, 0, 0), "the framed tile starts at the padding")
        XCTAssertEqual(grid[10, 4], .white, "the gap is background")
        XCTAssertEqual(grid[4, 12], RGB(255, 0, 0), "a small tile is centred in its cell")
        XCTAssertEqual(grid[10, 10], Colormap.jet.color(1), "the colour bar's top is the high end")
    }
}
