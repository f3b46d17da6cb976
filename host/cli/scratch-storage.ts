// The storage directory of a command that fills a storage of its own (test, replay, battery): a new
// temporary directory, or the one --storage names, which must be empty or absent (it is created).

import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { UsageError } from "../base/user-error.js";

export interface ScratchStorage {
  dir: string;
  /** Made by this call under the system's temporary directory: the command removes it at the end. */
  temporary: boolean;
}

/**
 * Prepares the storage of the command named by `command` (the temporary directory's prefix).
 * `notEmptyWhy` is added to the refusal of a directory that already holds files.
 */
export function scratchStoragePrepare(dir: string | undefined, command: string, notEmptyWhy?: string): ScratchStorage {
  if (dir === undefined) return { dir: mkdtempSync(join(tmpdir(), `imx-memsim-${command}-`)), temporary: true };
  const full = resolve(dir);
  if (existsSync(full)) {
    if (!statSync(full).isDirectory()) throw new UsageError(`--storage ${dir} is not a directory`);
    if (readdirSync(full).length > 0)
      throw new UsageError(`--storage ${dir} is not empty${notEmptyWhy === undefined ? "" : ` (${notEmptyWhy})`}`);
  } else {
    try {
      mkdirSync(full, { recursive: true });
    } catch (error) {
      throw new UsageError(`--storage ${dir}: cannot create it: ${(error as Error).message}`);
    }
  }
  return { dir: full, temporary: false };
}
