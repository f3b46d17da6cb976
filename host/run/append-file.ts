// An append-only file of whole lines whose every append is on disk (fdatasync) when it returns: the
// mechanism under the upload log and the packets file. A line cut short by a crash is dropped when
// the file is opened; an append that fails is cut back, so the file only ever grows by whole lines.

import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";

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

  private constructor(fd: number, sizeBytes: number) {
    this.fd = fd;
    this.sizeBytes = sizeBytes;
  }

  /** Opens for appending, dropping a torn tail; a new file and its directory entry are synced. */
  static open(state: AppendFileState): AppendFile {
    const fd = openSync(state.path, "a");
    try {
      if (state.tornBytes > 0) {
        ftruncateSync(fd, state.validBytes);
        fsyncSync(fd);
      }
      if (!state.exists) {
        fsyncSync(fd);
        directorySync(dirname(state.path));
      }
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return new AppendFile(fd, state.validBytes);
  }

  /** The file's size in bytes: what `cut` takes it back to. */
  get size(): number {
    return this.sizeBytes;
  }

  /** Writes and syncs `bytes`. On failure the file is cut back to where it was and the error thrown. */
  append(bytes: Buffer): void {
    try {
      let written = 0;
      // writeSync writes at least one byte or throws, so the loop ends.
      while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written);
      fdatasyncSync(this.fd);
    } catch (error) {
      this.cut(this.sizeBytes);
      throw error;
    }
    this.sizeBytes += bytes.length;
  }

  /** Cuts the file back to `sizeBytes` (best effort: the next open drops a torn line anyway). */
  cut(sizeBytes: number): void {
    try {
      ftruncateSync(this.fd, sizeBytes);
      fdatasyncSync(this.fd);
    } catch {
      // Left to the next open, which drops a line cut short.
    }
    this.sizeBytes = Math.min(this.sizeBytes, sizeBytes);
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
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
