// The storage lock: imx-memsim.lock at the root of a storage directory names the one process that
// uses it, so that two processes (a `run`, a library's Device, a `verify --repair`) never open one
// storage. It lives here, below the core, because both Device.create (host/core) and the commands
// of host/run and host/verify take it.
//
// The file holds one JSON object naming its holder:
//
//   {"format":"imx-memsim-lock","version":1,"pid":4242,"startTicks":"123456","bootId":"…","storage":"/abs/dir","token":"…"}
//
// `startTicks` is field 22 of /proc/<pid>/stat (the process's start time in clock ticks since boot)
// and `bootId` /proc/sys/kernel/random/boot_id: together with the pid they name one process of one
// boot, so a pid reused after a power cut or a restart is not taken for the run that wrote the
// lock. The lock's holder is live only if that process still runs (same start time, same boot). A
// lock written by 0.1.0 holds just the pid: its holder is live only if that pid runs an imx-memsim
// command (its /proc/<pid>/cmdline names imx-memsim or its cli/main.js). Any other lock (a dead
// pid, a reused one, a file holding `1`, one that is not a lock at all) is stale: it is taken over
// with a one-line warning. Off Linux, where /proc is missing, a live pid other than 1 holds it.
// `token` (random, per acquisition) tells two holders of one process apart, so a release removes
// only its own lock.
//
// Why not a lock library such as proper-lockfile: it keeps its lock fresh by rewriting its mtime
// from an event-loop timer and calls a lock stale once the mtime is older than a few seconds. The
// device's API is synchronous: a long boot recovery, a flush or a tight write loop starves that
// timer, and a second process would take over a lock whose holder is alive. And a SIGKILLed
// holder would block the storage for the whole stale period, where the pid and start time here
// tell at once that it is gone. The file-per-holder format is also what 0.1.0 and `verify` read.

import { randomUUID } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { UserError } from "../base/user-error.js";
import { writeFileAtomic } from "./atomic.js";
import { type Hal, HalError } from "./hal.js";
import { NodeFsHal } from "./node-fs.js";

/** The lock file at the root of a storage directory. */
export const LOCK_FILE = "imx-memsim.lock";
export const LOCK_FORMAT = "imx-memsim-lock";
export const LOCK_FORMAT_VERSION = 1;

/**
 * A storage directory that cannot be used as asked: it is in use (its lock is held by a live
 * process), or it belongs to another board or format (exit 2 on the command line, nothing changed).
 */
export class StorageError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = "StorageError";
  }
}

interface LockHolder {
  pid: number;
  startTicks: string | null;
  bootId: string | null;
  token: string | null;
  /** Written by 0.1.0: just the pid. */
  legacy: boolean;
}

function procRead(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks after boot), or null off Linux or for no such process. */
export function processStartTicks(pid: number): string | null {
  const stat = procRead(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // Field 2 (the command name, in parentheses) may hold spaces and parentheses: count after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[22 - 3] ?? null;
}

function bootId(): string | null {
  return procRead("/proc/sys/kernel/random/boot_id")?.trim() ?? null;
}

function lockParse(text: string): LockHolder | null {
  if (/^[0-9]{1,10}\n?$/.test(text))
    return { pid: Number(text.trim()), startTicks: null, bootId: null, token: null, legacy: true };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== "object" || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (r["format"] !== LOCK_FORMAT || typeof r["pid"] !== "number" || !Number.isSafeInteger(r["pid"])) return null;
  return {
    pid: r["pid"],
    startTicks: typeof r["startTicks"] === "string" ? r["startTicks"] : null,
    bootId: typeof r["bootId"] === "string" ? r["bootId"] : null,
    token: typeof r["token"] === "string" ? r["token"] : null,
    legacy: false,
  };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Why `holder` is not a live run (a stale lock), or null if it is one. */
function lockStaleReason(holder: LockHolder | null): string | null {
  if (holder === null) return "it is not an imx-memsim lock";
  const { pid } = holder;
  if (pid <= 0) return `pid ${pid} is not a process`;
  if (pid === process.pid) return null;
  if (!pidAlive(pid)) return `pid ${pid} is not running`;
  const linux = existsSync("/proc/self/stat");
  if (holder.legacy) {
    if (!linux) return pid === 1 ? "pid 1 is the init process" : null;
    const cmdline = (procRead(`/proc/${pid}/cmdline`) ?? "").split("\0").join(" ");
    return /imx-memsim|cli[/\\]main\.js/.test(cmdline)
      ? null
      : `pid ${pid} runs ${cmdline.trim().slice(0, 40) || "another program"}, not imx-memsim`;
  }
  if (!linux) return null;
  const boot = bootId();
  if (holder.bootId !== null && boot !== null && holder.bootId !== boot)
    return `it was written before the last boot (pid ${pid} is another process now)`;
  const ticks = processStartTicks(pid);
  if (holder.startTicks !== null && ticks !== null && holder.startTicks !== ticks)
    return `pid ${pid} is another process now (started at tick ${ticks}, not ${holder.startTicks})`;
  return null;
}

/** Who holds a storage's lock (read only): nobody, a live run, or a stale holder and why it is stale. */
export type LockState =
  { state: "none" } | { state: "live"; pid: number } | { state: "stale"; pid: number | null; reason: string };

export function lockInspect(dir: string): LockState {
  const text = procRead(join(dir, LOCK_FILE));
  if (text === null) return { state: "none" };
  const holder = lockParse(text);
  const stale = lockStaleReason(holder);
  if (stale === null) return { state: "live", pid: holder?.pid ?? 0 };
  return { state: "stale", pid: holder?.pid ?? null, reason: stale };
}

/** Storage directories (absolute) whose lock a Device of this thread holds (storageLockAcquire). */
const heldByDevices = new Set<string>();

/**
 * Refuses a directory another live run is using (read only). Returns the warning to print when the
 * lock is stale and will be taken over, or null when there is no lock.
 */
export function lockCheck(dir: string, shown: string): string | null {
  const path = join(dir, LOCK_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return null;
  }
  const holder = lockParse(text);
  const stale = lockStaleReason(holder);
  if (stale === null) {
    if (holder?.pid === process.pid && !heldByDevices.has(dir)) return null;
    if (holder?.pid === process.pid)
      throw new StorageError(`storage ${shown} is open in this process (a Device holds its lock: close() it first)`);
    throw new StorageError(`storage ${shown} is in use by another imx-memsim run (pid ${holder?.pid ?? "?"})`);
  }
  return `warning: storage ${shown}: taking over a stale lock (${stale})`;
}

export interface LockHandle {
  /** Removes the lock if it is still this holder's. Idempotent. */
  release(): void;
  /** Why the lock file could not be written (a full filesystem), or null: the run goes on without it. */
  failure: string | null;
}

function lockBody(dir: string, token: string): string {
  const body = {
    format: LOCK_FORMAT,
    version: LOCK_FORMAT_VERSION,
    pid: process.pid,
    startTicks: processStartTicks(process.pid),
    bootId: bootId(),
    storage: dir,
    createdUtc: new Date().toISOString(),
    token,
  };
  return `${JSON.stringify(body)}\n`;
}

function lockIsMine(path: string, token: string): boolean {
  const holder = lockParse(procRead(path) ?? "");
  return holder !== null && !holder.legacy && holder.pid === process.pid && holder.token === token;
}

function releaseOf(path: string, token: string, after?: () => void): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    try {
      if (lockIsMine(path, token)) unlinkSync(path);
    } catch {
      // Already gone.
    } finally {
      after?.();
    }
  };
}

/**
 * Takes the lock (after lockCheck passed); a stale one is replaced. A filesystem too full to take
 * the lock file is not fatal: the run goes on, and `failure` says so.
 */
export function lockTake(dir: string, hal: Hal = new NodeFsHal(dir)): LockHandle {
  const path = join(dir, LOCK_FILE);
  const token = randomUUID();
  let failure: string | null = null;
  try {
    writeFileAtomic(hal, LOCK_FILE, Buffer.from(lockBody(dir, token), "utf8"));
  } catch (error) {
    if (!isSpaceError(error)) throw error;
    failure = `the lock file could not be written (${errorText(error)})`;
  }
  if (failure === null && !lockIsMine(path, token)) {
    const holder = lockParse(procRead(path) ?? "");
    throw new StorageError(`storage ${dir} was taken by another imx-memsim run (pid ${holder?.pid ?? "?"})`);
  }
  return { failure, release: releaseOf(path, token) };
}

/** Attempts at taking a lock that another process keeps creating and removing under us. */
const ACQUIRE_ATTEMPTS_MAX = 4;

/**
 * Takes the lock of the existing directory `dir` (absolute) for a Device, exclusively: a lock held
 * by any live process refuses it (StorageError), this very process included (another Device, or a
 * run, holds it), and two processes that try at once cannot both succeed — the lock file appears by
 * link(2), which fails when the name exists. A stale lock (its holder died, SIGKILL or power cut
 * included) is moved aside and taken over at once; `warn` gets the one-line warning. A filesystem
 * too full to write the lock file is not fatal: `failure` says so and the device goes on without it.
 */
export function storageLockAcquire(dir: string, shown: string, warn: (line: string) => void): LockHandle {
  const path = join(dir, LOCK_FILE);
  const token = randomUUID();
  const temp = join(dir, `${LOCK_FILE}.${process.pid}.${token.slice(0, 8)}.tmp`);
  try {
    const fd = openSync(temp, "wx");
    try {
      writeSync(fd, lockBody(dir, token));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // Never created.
    }
    if (!isSpaceError(error)) throw error;
    return { failure: `the lock file could not be written (${errorText(error)})`, release: () => {} };
  }
  try {
    for (let attempt = 0; attempt < ACQUIRE_ATTEMPTS_MAX; attempt++) {
      try {
        linkSync(temp, path);
        directorySync(dir);
        heldByDevices.add(dir);
        return { failure: null, release: releaseOf(path, token, () => heldByDevices.delete(dir)) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
          if (isSpaceError(error))
            return { failure: `the lock file could not be written (${errorText(error)})`, release: () => {} };
          throw error;
        }
      }
      const text = procRead(path);
      if (text === null) continue; // Released meanwhile: try again.
      const holder = lockParse(text);
      const stale = lockStaleReason(holder);
      if (stale === null) {
        throw new StorageError(
          holder?.pid === process.pid
            ? `storage ${shown} is already open in this process (a Device or a run holds its lock: close() it first)`
            : `storage ${shown} is in use by another process (pid ${holder?.pid ?? "?"}): two processes never open one storage`,
        );
      }
      staleLockRemove(path, text);
      warn(`warning: storage ${shown}: taking over a stale lock (${stale})`);
    }
    throw new StorageError(`storage ${shown}: its lock keeps changing hands; try again`);
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // Gone already.
    }
  }
}

// Moves a stale lock aside and removes it. If another process replaced it meanwhile (what was moved
// is not the stale text that was read), the moved lock is put back (link fails if a third one took
// the name: that one is then the lock).
function staleLockRemove(path: string, staleText: string): void {
  const aside = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.stale`;
  try {
    renameSync(path, aside);
  } catch {
    return; // Gone already: the next attempt sees.
  }
  try {
    if (procRead(aside) !== staleText) {
      try {
        linkSync(aside, path);
      } catch {
        // A third process took the name: its lock stands.
      }
    }
  } finally {
    try {
      unlinkSync(aside);
    } catch {
      // Gone already.
    }
  }
}

function directorySync(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Platforms that cannot fsync a directory: the lock is in place, its durability matters only
    // across a power cut, after which its holder is gone anyway.
  }
}

// ---- A full filesystem -------------------------------------------------------------------------------

/** A write refused for want of room (ENOSPC, EDQUOT, EFBIG): counted and retried, not fatal. */
export function isSpaceError(error: unknown): boolean {
  if (error instanceof HalError) return error.code === "ENOSPC";
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT" || code === "EFBIG";
}

export function errorText(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : error instanceof Error ? error.message : String(error);
}
