// JPEG files to 8-bit RGB pixels and back, through libjpeg-turbo (the CJPEG target holds the
// setjmp-based error handling: a corrupt file is a thrown `DataError`, never a process exit).
import CJPEG
import Foundation

/// An 8-bit RGB image, interleaved and row-major: pixels: [height, width, 3].
public struct PixelImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// pixels: [height, width, 3], R, G, B.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 1 && height >= 1 && pixels.count == width * height * 3,
                     "PixelImage: \(pixels.count) bytes do not make a \(width)×\(height) RGB image")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image whose pixel (x, y) has the colour `colour(x, y)`.
    public init(width: Int, height: Int, colour: (Int, Int) -> (UInt8, UInt8, UInt8)) {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let (r, g, b) = colour(x, y)
                let i = (y * width + x) * 3
                pixels[i] = r; pixels[i + 1] = g; pixels[i + 2] = b
            }
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// Channel `c` of pixel (x, y).
    public subscript(x: Int, y: Int, c: Int) -> UInt8 { pixels[(y * width + x) * 3 + c] }
}

/// What a JPEG header says: size and number of components (1 grey, 3 colour, 4 CMYK/YCCK).
public struct JPEGInfo: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let components: Int
}

public enum JPEG {
    /// Decodes a JPEG file to RGB (grey replicated, CMYK converted as Pillow does). A missing,
    /// corrupt or truncated file throws a `DataError` naming `path`.
    public static func decode(path: String) throws -> PixelImage {
        try decode(readWhole(path), path: path)
    }

    /// Decodes JPEG bytes; `path` names them in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> PixelImage {
        var info = atx_jpeg_info()
        var message = [CChar](repeating: 0, count: Int(ATX_JPEG_MESSAGE_LENGTH))
        var output: UnsafeMutablePointer<UInt8>?
        let status = bytes.withUnsafeBufferPointer { data in
            atx_jpeg_decode_rgb(data.baseAddress, data.count, &output, &info, &message)
        }
        guard status == 0, let output else {
            throw DataError.corruptImage(path: path, reason: messageText(message))
        }
        defer { atx_jpeg_free(output) }
        let count = Int(info.width) * Int(info.height) * 3
        return PixelImage(width: Int(info.width), height: Int(info.height),
                          pixels: Array(UnsafeBufferPointer(start: output, count: count)))
    }

    /// Reads only the header of a JPEG file.
    public static func info(path: String) throws -> JPEGInfo {
        let bytes = try readWhole(path)
        var info = atx_jpeg_info()
        var message = [CChar](repeating: 0, count: Int(ATX_JPEG_MESSAGE_LENGTH))
        let status = bytes.withUnsafeBufferPointer { atx_jpeg_read_info($0.baseAddress, $0.count, &info, &message) }
        guard status == 0 else { throw DataError.corruptImage(path: path, reason: messageText(message)) }
        return JPEGInfo(width: Int(info.width), height: Int(info.height), components: Int(info.components))
    }

    /// JPEG bytes of an RGB image (4:2:0 chroma subsampling), or of a grey image when `grey`
    /// (the R channel is used), at `quality` 1…100.
    public static func encode(_ image: PixelImage, quality: Int = 90, grey: Bool = false) throws -> [UInt8] {
        precondition((1...100).contains(quality), "JPEG.encode: quality must be in 1…100, got \(quality)")
        let components = grey ? 1 : 3
        let input = grey ? stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] } : image.pixels
        var message = [CChar](repeating: 0, count: Int(ATX_JPEG_MESSAGE_LENGTH))
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = input.withUnsafeBufferPointer {
            atx_jpeg_encode($0.baseAddress, Int32(image.width), Int32(image.height), Int32(components), Int32(quality),
                            &output, &size, &message)
        }
        guard status == 0, let output else {
            throw DataError.unreadable(path: "(JPEG encoder)", reason: messageText(message))
        }
        defer { atx_jpeg_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }

    /// Writes `image` as a JPEG file at `path`.
    public static func write(_ image: PixelImage, to path: String, quality: Int = 90, grey: Bool = false) throws {
        let bytes = try encode(image, quality: quality, grey: grey)
        guard FileManager.default.createFile(atPath: path, contents: Foundation.Data(bytes)) else {
            throw DataError.unreadable(path: path, reason: "cannot write the file")
        }
    }
}

/// The NUL-terminated text the C side wrote into `message`.
private func messageText(_ message: [CChar]) -> String {
    String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The bytes of `path` as they are (no gzip), or a `DataError` naming it.
func readWhole(_ path: String) throws -> [UInt8] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw DataError.missingFile(path: path)
    }
    guard !isDirectory.boolValue else { throw DataError.unreadable(path: path, reason: "it is a directory") }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw DataError.unreadable(path: path, reason: String(cString: strerror(errno)))
    }
    return [UInt8](data)
}
