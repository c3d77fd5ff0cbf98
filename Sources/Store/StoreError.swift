/// Why the store refused or failed; every message names the file (or the run) concerned.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    /// The file is neither empty nor an atx database; it was left untouched.
    case notAnAtxDatabase(path: String)
    /// The database has migrations this atx does not know (`found`); it was left untouched.
    case newerSchema(path: String, found: [String], known: [String])
    /// Another process held the write lock for longer than the busy timeout.
    case locked(path: String)
    case unknownRun(key: String)
    /// The file or its directory could not be read or created.
    case io(path: String, reason: String)
    /// Any other SQLite error (a violated constraint, a corrupt file, …).
    case sqlite(path: String, message: String)

    public var description: String {
        switch self {
        case .notAnAtxDatabase(let path):
            return "\(path) is not an atx results database; it was left untouched"
        case .newerSchema(let path, let found, let known):
            return "\(path) was written by a newer atx (unknown migrations: \(found.joined(separator: ", ")); "
                + "this atx knows: \(known.joined(separator: ", "))); it was left untouched, use a newer atx"
        case .locked(let path):
            return "\(path) is locked by another process (gave up after the busy timeout)"
        case .unknownRun(let key):
            return "no run with key \(key)"
        case .io(let path, let reason):
            return "\(path): \(reason)"
        case .sqlite(let path, let message):
            return "\(path): \(message)"
        }
    }
}
