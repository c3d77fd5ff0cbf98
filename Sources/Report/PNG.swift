// A PNG encoder for 8-bit RGB images (ISO/IEC 15948): signature, IHDR, one IDAT holding the
// zlib stream of the scanlines (each with filter byte 0, none), IEND. zlib does the deflate
// and the CRC-32.
import CZlib
import Foundation

public enum PNG {
    /// The bytes of a PNG file holding `image`.
    public static func encode(_ image: RGBImage) -> [UInt8] {
        let rowBytes = image.width * 3
        var raw = [UInt8](repeating: 0, count: (rowBytes + 1) * image.height)
        for y in 0..<image.height {
            raw.replaceSubrange((y * (rowBytes + 1) + 1)...(y * (rowBytes + 1) + rowBytes),
                                with: image.pixels[(y * rowBytes)..<((y + 1) * rowBytes)])
        }
        var header: [UInt8] = []
        header += bigEndian(UInt32(image.width)) + bigEndian(UInt32(image.height))
        header += [8, 2, 0, 0, 0]  // bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + chunk("IHDR", header) + chunk("IDAT", deflate(raw)) + chunk("IEND", [])
    }

    /// Writes `image` as a PNG file at `path`.
    public static func write(_ image: RGBImage, to path: String) throws {
        try Data(encode(image)).write(to: URL(fileURLWithPath: path))
    }

    /// Length, type, data, and the CRC-32 of type and data.
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    /// The CRC-32 (ISO 3309, as PNG and zlib use it) of `bytes`.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        UInt32(bytes.withUnsafeBufferPointer { CZlib.crc32(0, $0.baseAddress, uInt($0.count)) })
    }

    /// A zlib stream (RFC 1950) of `bytes`.
    static func deflate(_ bytes: [UInt8]) -> [UInt8] {
        var size = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let status = compress2(&out, &size, bytes, uLong(bytes.count), Z_BEST_COMPRESSION)
        precondition(status == Z_OK, "compress2 failed with \(status) on a buffer of compressBound size")
        return Array(out.prefix(Int(size)))
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}
