// Output files a command will write (an upload log, a summary, a trace, a packets file) are checked
// before the command changes anything: a run that could not write its results should not first
// boot its storage (a life counted, the clock moved) or simulate for minutes and then fail.

import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { UsageError } from "./user-error.js";

export interface OutputPath {
  /** The flag that names the file, e.g. "--json". */
  flag: string;
  path: string;
  /** The command reads the file too if it exists (an upload log is resumed). */
  read?: boolean;
}

function errorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ?? (error instanceof Error ? error.message : String(error));
}

/**
 * Refuses, with a UsageError naming the flag and the path, an output file that could not be
 * written: a directory, a path in a missing directory or under a file, a read-only file or
 * directory (EROFS, EACCES). Creates and changes nothing.
 */
export function outputPathCheck(output: OutputPath): void {
  const full = resolve(output.path);
  const shown = `${output.flag} ${output.path}`;
  let exists = true;
  try {
    const st = statSync(full);
    if (st.isDirectory()) throw new UsageError(`${shown}: is not a file (it is a directory)`);
    if (!st.isFile()) throw new UsageError(`${shown}: is not a regular file`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = errorCode(error);
    if (code !== "ENOENT" && code !== "ENOTDIR") throw new UsageError(`${shown}: cannot be used (${errorCode(error)})`);
    exists = false;
  }
  if (exists) {
    try {
      accessSync(full, constants.W_OK | (output.read === true ? constants.R_OK : 0));
    } catch (error) {
      throw new UsageError(`${shown}: cannot be written (${errorCode(error)})`);
    }
    return;
  }
  const dir = dirname(full);
  let dirStat;
  try {
    dirStat = statSync(dir);
  } catch (error) {
    const code = errorCode(error);
    throw new UsageError(
      code === "ENOENT" || code === "ENOTDIR"
        ? `${shown}: the directory ${dir} does not exist`
        : `${shown}: the directory ${dir} cannot be used (${code})`,
    );
  }
  if (!dirStat.isDirectory()) throw new UsageError(`${shown}: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch (error) {
    throw new UsageError(`${shown}: the directory ${dir} cannot be written (${errorCode(error)})`);
  }
}

/** outputPathCheck for each path, in order; the first bad one is refused. */
export function outputPathsCheck(outputs: readonly OutputPath[]): void {
  for (const output of outputs) outputPathCheck(output);
}
