// Host imports: the disk-tier HAL and the log sink. Each HAL call returns OK or a negative ABI
// error code; the host never throws into the core. Paths are ASCII, relative to the storage root.

// Writes `dataLen` bytes atomically to `path` (temp file, fsync, rename, directory sync).
// @ts-ignore: decorator
@external("hal", "fileWrite")
export declare function halFileWrite(pathPtr: usize, pathLen: i32, dataPtr: usize, dataLen: i32): i32;

// Appends `dataLen` bytes to `path` and makes them durable (one data sync; a directory sync only
// when the append created the file).
// @ts-ignore: decorator
@external("hal", "fileAppend")
export declare function halFileAppend(pathPtr: usize, pathLen: i32, dataPtr: usize, dataLen: i32): i32;

// Reads up to `capacity` bytes of `path` into `dataPtr`; returns the bytes read or an error code.
// @ts-ignore: decorator
@external("hal", "fileRead")
export declare function halFileRead(pathPtr: usize, pathLen: i32, dataPtr: usize, capacity: i32): i32;

// Deletes `path` now. A missing file returns E_HAL_NOT_FOUND, which the core counts as deleted.
// @ts-ignore: decorator
@external("hal", "fileDelete")
export declare function halFileDelete(pathPtr: usize, pathLen: i32): i32;

// Deletes `path` now and makes the deletion durable (the directory is synced), so that a power cut
// cannot bring the file back: for files given up unacknowledged (evict-oldest).
// @ts-ignore: decorator
@external("hal", "fileDeleteDurable")
export declare function halFileDeleteDurable(pathPtr: usize, pathLen: i32): i32;

// Starts deleting `path` off the main loop; the host later calls `cleanupConfirm(slot, generation, status)`.
// @ts-ignore: decorator
@external("hal", "fileDeleteAsync")
export declare function halFileDeleteAsync(pathPtr: usize, pathLen: i32, slot: u32, generation: u32): i32;

// Moves `path` out of the store into corrupted/ (it failed validation when read).
// @ts-ignore: decorator
@external("hal", "fileQuarantine")
export declare function halFileQuarantine(pathPtr: usize, pathLen: i32): i32;

// Bytes the filesystem under the storage root can still take: a whole number, Infinity when it has
// no known limit, or a negative error code when the query failed. Read at a bounded rate
// (disk-space.ts), never per record.
// @ts-ignore: decorator
@external("hal", "diskFree")
export declare function halDiskFree(): f64;

// Continues a CRC-32 (the function of crc32.ts) over `length` bytes at `ptr`: the platform's CRC
// unit, which checks a whole `.imx` file many times faster than the core's table loop (on a
// microcontroller, a CRC peripheral or the ROM's routine). Used for large buffers only (crc32.ts).
// @ts-ignore: decorator
@external("hal", "crc32")
export declare function halCrc32(crc: u32, ptr: usize, length: usize): u32;

// One log event; the host formats and filters it.
// @ts-ignore: decorator
@external("hal", "log")
export declare function halLog(level: i32, subsystem: i32, event: i32, a: f64, b: f64): void;
