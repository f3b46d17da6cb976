// An append-only file of whole lines whose every append is on disk (fdatasync) when it returns: the
// mechanism under the upload log and the packets file. A line cut short by a crash is dropped when
// the file is opened; an append that fails is cut back, so the file only ever grows by whole lines.
//
// The file operations come through AppendFileOps (node:fs by default), so that a test can give the
// writer a disk that loses power and keeps only what was synced, and see that every line whose
// append returned survives the cut (test/run/append-file.test.ts).

import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/** The file operations an AppendFile uses, as node:fs names them (synchronous, on a file descriptor). */
export interface AppendFileOps {
  /** Opens `path` for appending (creating it): openSync(path, "a"). */
  open(path: string): number;
  /** Writes bytes [offset, offset + length) at the end; returns how many it wrote (at least one). */
  write(fd: number, bytes: Buffer, offset: number, length: number): number;
  /** Makes the file's data durable. */
  fdatasync(fd: number): void;
  /** Makes the file's data and metadata durable. */
  fsync(fd: number): void;
  ftruncate(fd: number, sizeBytes: number): void;
  close(fd: number): void;
  /** Makes the entries of `dir` durable (a file just created in it), best effort. */
  directorySync(dir: string): void;
}

/** AppendFileOps on node:fs. */
export const NODE_APPEND_FILE_OPS: AppendFileOps = {
  open: (path) => openSync(path, "a"),
  write: (fd, bytes, offset, length) => writeSync(fd, bytes, offset, length),
  fdatasync: (fd) => fdatasyncSync(fd),
  fsync: (fd) => fsyncSync(fd),
  ftruncate: (fd, sizeBytes) => ftruncateSync(fd, sizeBytes),
  close: (fd) => closeSync(fd),
  directorySync: (dir) => directorySync(dir),
};

/** What a reader found in the file: whether it exists, the bytes of whole lines and of a torn tail. */
export interface AppendFileState {
  readonly path: string;
  readonly exists: boolean;
  readonly validBytes: number;
  readonly tornBytes: number;
}

export class AppendFile {
  private fd: number;
  private sizeBytes: number;

  private constructor(
    fd: number,
    sizeBytes: number,
    private readonly ops: AppendFileOps,
  ) {
    this.fd = fd;
    this.sizeBytes = sizeBytes;
  }

  /** Opens for appending, dropping a torn tail; a new file and its directory entry are synced. */
  static open(state: AppendFileState, ops: AppendFileOps = NODE_APPEND_FILE_OPS): AppendFile {
    const fd = ops.open(state.path);
    try {
      if (state.tornBytes > 0) {
        ops.ftruncate(fd, state.validBytes);
        ops.fsync(fd);
      }
      if (!state.exists) {
        ops.fsync(fd);
        ops.directorySync(dirname(state.path));
      }
    } catch (error) {
      ops.close(fd);
      throw error;
    }
    return new AppendFile(fd, state.validBytes, ops);
  }

  /** The file's size in bytes: what `cut` takes it back to. */
  get size(): number {
    return this.sizeBytes;
  }

  /** Writes and syncs `bytes`. On failure the file is cut back to where it was and the error thrown. */
  append(bytes: Buffer): void {
    try {
      let written = 0;
      // A write writes at least one byte or throws, so the loop ends.
      while (written < bytes.length) written += this.ops.write(this.fd, bytes, written, bytes.length - written);
      // On disk before the caller (the uploader) acknowledges what the bytes hold.
      this.ops.fdatasync(this.fd);
    } catch (error) {
      this.cut(this.sizeBytes);
      throw error;
    }
    this.sizeBytes += bytes.length;
  }

  /** Cuts the file back to `sizeBytes` (best effort: the next open drops a torn line anyway). */
  cut(sizeBytes: number): void {
    try {
      this.ops.ftruncate(this.fd, sizeBytes);
      this.ops.fdatasync(this.fd);
    } catch {
      // Left to the next open, which drops a line cut short.
    }
    this.sizeBytes = Math.min(this.sizeBytes, sizeBytes);
  }

  close(): void {
    if (this.fd < 0) return;
    this.ops.close(this.fd);
    this.fd = -1;
  }
}

/** fsyncs a directory so that a file just created in it stays after a power cut; best effort. */
export function directorySync(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the file's own fsync is what matters most.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
