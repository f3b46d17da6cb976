// A Hal that wraps another and injects the faults a real disk tier shows, driven by a seeded
// integer PRNG so every run replays from its seed:
//
// - I/O errors (EIO) on reads (readFile, readFileInto, fileSize), writes, fsyncs (syncFile,
//   syncDir), renames and deletes (remove, removeAsync; EIO, EBUSY or EACCES), and optionally on
//   the metadata calls (mkdir, list, isDir, exists, removeTree, freeBytes). Nothing changes on disk when a
//   call fails this way.
// - Disk full: once the bytes written through this HAL would pass `diskBytesBudget`, writeFile
//   lands only the bytes that still fit, then throws ENOSPC; freeBytes() reports what is left of
//   the budget (or the wrapped Hal's figure, whichever is smaller), so a core that reads free
//   space sees the disk fill up before it meets ENOSPC.
// - A small filesystem (`capacityBytes`): the bytes of the files under the root count against
//   it, as on a real filesystem, so removing a file gives its bytes back (the budget above never
//   does). A write past it lands what fits and throws ENOSPC; freeBytes() is what is left. The
//   use is counted from the wrapped Hal when first needed (any files already there count), then
//   kept up to date by the writes, renames and removals made through this HAL; it can be resized
//   (a filesystem enlarged). It works over any Hal, a NodeFsHal on a real directory included.
// - Torn writes: only a prefix of the bytes lands, then the call throws EIO.
// - Zero-filled tails: the call "succeeds" but the bytes after some offset are zeros, as a file
//   looks after a hard reset on a filesystem that allocated blocks before writing them. These are
//   silent: the HAL remembers the damaged paths (following renames) so a test can tell damage it
//   injected from damage the core caused.
// - A power cut at the N-th HAL operation.
//
// How a crash works, and why it is not an exception
// -------------------------------------------------
// The core reaches the HAL through host/core/hal-bridge.ts, which catches every error and turns it
// into a status code (the core must never see a host exception). So a crash cannot unwind out of
// the wasm call the way littlefs's emulated block device longjmps out of a test. Instead:
//
//   1. FaultyHal counts every operation (all Hal methods, failed ones included; 1-based).
//   2. When the count reaches `crashAtOp`, it cuts the power on the Hal it wraps *before* that
//      operation runs: it calls `inner.crash()` (MemoryHal.crash() keeps only what was fsynced:
//      unsynced file contents and unsynced directory changes are lost), then marks itself dead.
//   3. That operation and every later one fail with EIO ("device lost power"), so the core sees a
//      disk that stopped answering and returns from the current top-level call with an error or a
//      partial result. Nothing it does after the cut reaches the storage.
//   4. The caller checks `crashed` (or calls `checkpoint()`, which throws CrashSignal) after each
//      top-level device call, abandons the device instance, and boots a new Device on the wrapped
//      Hal (usually through a fresh FaultyHal): the new device sees exactly what survived.
//
// Asynchronous deletes (removeAsync) are counted when they are called; the unlink itself runs on a
// later microtask, and only if no crash happened in between (a power cut cancels it).

import { type Hal, HalCounters, HalError, type HalErrorCode, type HalOp, type HalStats } from "./hal.js";
import { Prng } from "../base/prng.js";

/** Rates are integers out of FAULT_RATE_SCALE (parts per million). */
export const FAULT_RATE_SCALE = 1_000_000;

export interface FaultRates {
  /** readFile, readFileInto, fileSize → EIO. */
  read: number;
  /** writeFile → EIO, nothing written. */
  write: number;
  /** writeFile → a prefix lands, then EIO. */
  tornWrite: number;
  /** writeFile → succeeds, but the tail from a random offset is zeros (silent damage). */
  zeroTail: number;
  syncFile: number;
  syncDir: number;
  rename: number;
  /** remove and removeAsync → EIO, EBUSY or EACCES. */
  remove: number;
  /** mkdir, list, isDir, exists, removeTree, freeBytes → EIO. */
  meta: number;
}

export const NO_FAULTS: Readonly<FaultRates> = {
  read: 0,
  write: 0,
  tornWrite: 0,
  zeroTail: 0,
  syncFile: 0,
  syncDir: 0,
  rename: 0,
  remove: 0,
  meta: 0,
};

export type FaultKind = "io-error" | "enospc" | "torn-write" | "zero-tail" | "crash";

export interface FaultEvent {
  kind: FaultKind;
  op: HalOp | "crashNow";
  path: string;
  /** The 1-based operation count at which it happened. */
  opIndex: number;
}

/** A Hal that can lose power: keeps only what was made durable (MemoryHal). */
export interface CrashableHal extends Hal {
  crash(): void;
}

export interface FaultyHalOptions {
  seed: number;
  rates?: Partial<FaultRates>;
  /** writeFile throws ENOSPC once the bytes written through this HAL would pass this many. */
  diskBytesBudget?: number | null;
  /** The filesystem's size: the files under the root may hold this many bytes (null for no limit). */
  capacityBytes?: number | null;
  /** Cut the power just before the N-th operation (1-based); null for never. */
  crashAtOp?: number | null;
  /** Which paths torn writes and zero-filled tails may hit (all by default). */
  damageFilter?: (path: string) => boolean;
  /** Start with injection on (default true). Crashes and the disk budget apply either way. */
  enabled?: boolean;
  /**
   * A scripted fault: called before each operation (while injection is on); a code makes that
   * operation fail with it, nothing done. For repros that need one exact failure.
   */
  failWhen?: (op: HalOp, path: string, opIndex: number) => HalErrorCode | null;
  /**
   * Sabotage, for testing the tests: a rename onto a path this accepts reports success but drops
   * the new file and keeps the old one (a disk that lies). Never part of a realistic profile.
   */
  lyingRename?: (to: string) => boolean;
  /** Sabotage: appends to a path this says true for are dropped silently (the file keeps its old content). */
  lyingAppend?: (path: string) => boolean;
}

/** Thrown by FaultyHal.checkpoint() after a power cut: the device instance must be abandoned. */
export class CrashSignal extends Error {
  constructor(
    readonly opIndex: number,
    readonly op: HalOp | "crashNow",
    readonly path: string,
  ) {
    super(`power cut at HAL operation ${opIndex} (${op} '${path}')`);
    this.name = "CrashSignal";
  }
}

const REMOVE_CODES: readonly HalErrorCode[] = ["EIO", "EBUSY", "EACCES"];
const EVENTS_KEPT_MAX = 256;

export class FaultyHal implements Hal {
  readonly kind: string;
  readonly rates: FaultRates;
  /** Injection of random faults on or off (the crash point and the disk budget always apply). */
  enabled: boolean;
  crashAtOp: number | null;
  diskBytesBudget: number | null;
  /** The filesystem's size (see the header); null for no limit. Resizable. */
  capacityBytes: number | null;
  /** Bytes of the files under the root while capacityBytes is set; null until counted (or after a power cut). */
  private usedBytesCounted: number | null = null;
  /** Operations seen so far, failed ones included. */
  opCount = 0;
  /** Bytes successfully written through this HAL. */
  bytesWritten = 0;
  /** Faults injected so far, by kind. */
  readonly injected: Record<FaultKind, number> = {
    "io-error": 0,
    enospc: 0,
    "torn-write": 0,
    "zero-tail": 0,
    crash: 0,
  };
  /** The most recent fault events (at most EVENTS_KEPT_MAX). */
  readonly events: FaultEvent[] = [];
  /** Every successful rename, in order, until taken with renamesTake(). */
  private renames: Array<{ from: string; to: string; opIndex: number }> = [];
  private readonly prng: Prng;
  private readonly damageFilter: (path: string) => boolean;
  failWhen: ((op: HalOp, path: string, opIndex: number) => HalErrorCode | null) | null;
  private readonly lyingRename: ((to: string) => boolean) | null;
  private readonly lyingAppend: ((path: string) => boolean) | null;
  private readonly counters = new HalCounters();
  /** Paths whose content this HAL damaged silently, with the bytes the caller meant to write. */
  private readonly damaged = new Map<string, Uint8Array>();
  private deadState: "alive" | "crashed" | "retired" = "alive";
  private crashPoint: CrashSignal | null = null;
  /** Incremented at each power cut; an async delete started before a cut never lands. */
  private epoch = 0;

  constructor(
    readonly inner: Hal,
    options: FaultyHalOptions,
  ) {
    this.kind = `faulty(${inner.kind})`;
    this.prng = new Prng(options.seed);
    this.rates = { ...NO_FAULTS, ...options.rates };
    this.enabled = options.enabled ?? true;
    this.crashAtOp = options.crashAtOp ?? null;
    this.diskBytesBudget = options.diskBytesBudget ?? null;
    this.capacityBytes = options.capacityBytes ?? null;
    this.damageFilter = options.damageFilter ?? (() => true);
    this.failWhen = options.failWhen ?? null;
    this.lyingRename = options.lyingRename ?? null;
    this.lyingAppend = options.lyingAppend ?? null;
    if (this.crashAtOp !== null) this.crashableCheck();
  }

  /** A power cut needs a wrapped Hal that can lose power; say so early rather than inside a HAL call. */
  private crashableCheck(): void {
    if (typeof (this.inner as Partial<CrashableHal>).crash !== "function") {
      throw new Error(`FaultyHal: a power cut needs a Hal with crash() (got ${this.inner.kind})`);
    }
  }

  // ---- Power ----------------------------------------------------------------------------------

  /** True after a power cut (crashAtOp reached or crashNow()). */
  get crashed(): boolean {
    return this.deadState === "crashed";
  }

  /** True after a power cut or retire(): every operation fails with EIO. */
  get dead(): boolean {
    return this.deadState !== "alive";
  }

  /** Cuts the power now, between operations. */
  crashNow(): void {
    if (this.dead) return;
    this.crashableCheck();
    this.powerCut("crashNow", "");
  }

  /** Stops this HAL without a power cut (the device using it was replaced after a graceful stop). */
  retire(): void {
    if (!this.dead) this.deadState = "retired";
  }

  /** Throws CrashSignal if the power was cut: call it after each top-level device call. */
  checkpoint(): void {
    if (this.crashPoint) throw this.crashPoint;
  }

  /** Faults injected so far, all kinds together. */
  get injectedTotal(): number {
    let total = 0;
    for (const n of Object.values(this.injected)) total += n;
    return total;
  }

  /** Paths whose current content was silently damaged here (zero-filled tail), with the intended bytes. */
  damagedFiles(): ReadonlyMap<string, Uint8Array> {
    return this.damaged;
  }

  /** The successful renames since the last call, oldest first. */
  renamesTake(): Array<{ from: string; to: string; opIndex: number }> {
    const taken = this.renames;
    this.renames = [];
    return taken;
  }

  private powerCut(op: HalOp | "crashNow", path: string): void {
    (this.inner as CrashableHal).crash();
    this.usedBytesCounted = null;
    this.deadState = "crashed";
    this.epoch++;
    this.injected.crash++;
    this.crashPoint = new CrashSignal(this.opCount, op, path);
    this.record("crash", op, path);
  }

  private record(kind: FaultKind, op: HalOp | "crashNow", path: string): void {
    if (kind !== "crash") this.injected[kind]++;
    this.events.push({ kind, op, path, opIndex: this.opCount });
    if (this.events.length > EVENTS_KEPT_MAX) this.events.shift();
  }

  /** Counts the operation; cuts the power if this is the crash point; fails it if dead. */
  private enter(op: HalOp, path: string): void {
    this.opCount++;
    this.counters.calls[op]++;
    if (!this.dead && this.crashAtOp !== null && this.opCount >= this.crashAtOp) this.powerCut(op, path);
    if (this.dead) throw new HalError("EIO", op, path, "device lost power");
    const code = this.enabled && this.failWhen ? this.failWhen(op, path, this.opCount) : null;
    if (code !== null) {
      this.record("io-error", op, path);
      throw new HalError(code, op, path, "scripted fault");
    }
  }

  /** Throws an injected error with probability rate / FAULT_RATE_SCALE. */
  private maybeFail(rate: number, op: HalOp, path: string, code: HalErrorCode = "EIO"): void {
    if (!this.enabled || !this.prng.chance(rate, FAULT_RATE_SCALE)) return;
    this.record("io-error", op, path);
    throw new HalError(code, op, path, "injected fault");
  }

  // ---- Capacity ---------------------------------------------------------------------------------

  /** Bytes of the file at `path` in the wrapped Hal (0 for none or a directory); not counted as an operation. */
  private sizeOf(path: string): number {
    try {
      return this.inner.isDir(path) ? 0 : this.inner.fileSize(path);
    } catch {
      return 0;
    }
  }

  /** Bytes of every file under `dir` in the wrapped Hal. The walk is bounded by the tree, which has no cycles. */
  private treeBytes(dir: string): number {
    let total = 0;
    let names: string[];
    try {
      names = this.inner.list(dir);
    } catch {
      return this.sizeOf(dir);
    }
    for (const name of names) {
      const path = dir === "." ? name : `${dir}/${name}`;
      total += this.inner.isDir(path) ? this.treeBytes(path) : this.sizeOf(path);
    }
    return total;
  }

  /** Bytes the files under the root hold (what counts against capacityBytes). */
  usedBytes(): number {
    this.usedBytesCounted ??= this.treeBytes(".");
    return this.usedBytesCounted;
  }

  private usedAdd(bytes: number): void {
    if (this.capacityBytes !== null && this.usedBytesCounted !== null) this.usedBytesCounted += bytes;
  }

  // ---- Hal ------------------------------------------------------------------------------------

  mkdir(dir: string): void {
    this.enter("mkdir", dir);
    this.maybeFail(this.rates.meta, "mkdir", dir);
    this.inner.mkdir(dir);
  }

  /**
   * The wrapped writeFile, counting a created file the way the wrapped Hal does, and the bytes
   * against capacityBytes (`oldBytes`: the file's size before).
   */
  private innerWrite(path: string, data: Uint8Array, oldBytes: number): void {
    const createdBefore = this.inner.stats().filesCreated;
    try {
      this.inner.writeFile(path, data);
    } catch (e) {
      this.usedBytesCounted = null; // what landed is unknown: count again when next needed
      throw e;
    }
    this.counters.filesCreated += this.inner.stats().filesCreated - createdBefore;
    this.usedAdd(data.byteLength - oldBytes);
  }

  writeFile(path: string, data: Uint8Array): void {
    this.enter("writeFile", path);
    this.maybeFail(this.rates.write, "writeFile", path);
    const damageable = this.damageFilter(path);
    const oldBytes = this.capacityBytes === null ? 0 : this.sizeOf(path);
    if (this.capacityBytes !== null) {
      const room = Math.max(0, this.capacityBytes - (this.usedBytes() - oldBytes));
      if (data.byteLength > room) {
        this.innerWrite(path, data.subarray(0, room), oldBytes);
        this.damaged.delete(path);
        this.record("enospc", "writeFile", path);
        throw new HalError("ENOSPC", "writeFile", path, "injected: filesystem full");
      }
    }
    if (this.diskBytesBudget !== null && this.bytesWritten + data.byteLength > this.diskBytesBudget) {
      const room = Math.max(0, this.diskBytesBudget - this.bytesWritten);
      this.innerWrite(path, data.subarray(0, Math.min(room, data.byteLength)), oldBytes);
      this.damaged.delete(path);
      this.record("enospc", "writeFile", path);
      throw new HalError("ENOSPC", "writeFile", path, "injected: disk full");
    }
    if (this.enabled && damageable && data.byteLength > 0 && this.prng.chance(this.rates.tornWrite, FAULT_RATE_SCALE)) {
      this.innerWrite(path, data.subarray(0, this.prng.below(data.byteLength)), oldBytes);
      this.damaged.delete(path);
      this.record("torn-write", "writeFile", path);
      throw new HalError("EIO", "writeFile", path, "injected: torn write");
    }
    if (this.enabled && damageable && data.byteLength > 0 && this.prng.chance(this.rates.zeroTail, FAULT_RATE_SCALE)) {
      const landed = data.slice();
      landed.fill(0, this.prng.below(data.byteLength));
      this.innerWrite(path, landed, oldBytes);
      this.damaged.set(path, data.slice());
      this.bytesWritten += data.byteLength;
      this.counters.bytesWritten += data.byteLength;
      this.record("zero-tail", "writeFile", path);
      return;
    }
    this.innerWrite(path, data, oldBytes);
    this.damaged.delete(path);
    this.bytesWritten += data.byteLength;
    this.counters.bytesWritten += data.byteLength;
  }

  /** Write faults, the disk budget, the capacity and torn appends (a prefix lands) as for writeFile; no zero-filled tails. */
  appendFile(path: string, data: Uint8Array): void {
    this.enter("appendFile", path);
    this.maybeFail(this.rates.write, "appendFile", path);
    if (this.enabled && this.lyingAppend?.(path)) {
      this.innerAppend(path, new Uint8Array(0)); // the file exists, its new bytes never land
      return;
    }
    if (this.capacityBytes !== null) {
      const room = Math.max(0, this.capacityBytes - this.usedBytes());
      if (data.byteLength > room) {
        this.innerAppend(path, data.subarray(0, room));
        this.record("enospc", "appendFile", path);
        throw new HalError("ENOSPC", "appendFile", path, "injected: filesystem full");
      }
    }
    if (this.diskBytesBudget !== null && this.bytesWritten + data.byteLength > this.diskBytesBudget) {
      const room = Math.max(0, this.diskBytesBudget - this.bytesWritten);
      this.innerAppend(path, data.subarray(0, Math.min(room, data.byteLength)));
      this.record("enospc", "appendFile", path);
      throw new HalError("ENOSPC", "appendFile", path, "injected: disk full");
    }
    if (
      this.enabled &&
      this.damageFilter(path) &&
      data.byteLength > 0 &&
      this.prng.chance(this.rates.tornWrite, FAULT_RATE_SCALE)
    ) {
      this.innerAppend(path, data.subarray(0, this.prng.below(data.byteLength)));
      this.record("torn-write", "appendFile", path);
      throw new HalError("EIO", "appendFile", path, "injected: torn write");
    }
    this.innerAppend(path, data);
    this.bytesWritten += data.byteLength;
    this.counters.bytesWritten += data.byteLength;
  }

  private innerAppend(path: string, data: Uint8Array): void {
    const createdBefore = this.inner.stats().filesCreated;
    try {
      this.inner.appendFile(path, data);
    } catch (e) {
      this.usedBytesCounted = null; // what landed is unknown: count again when next needed
      throw e;
    }
    this.counters.filesCreated += this.inner.stats().filesCreated - createdBefore;
    this.usedAdd(data.byteLength);
  }

  syncFile(path: string): void {
    this.enter("syncFile", path);
    this.maybeFail(this.rates.syncFile, "syncFile", path);
    this.inner.syncFile(path);
    this.counters.syncs++;
  }

  rename(from: string, to: string): void {
    this.enter("rename", from);
    this.maybeFail(this.rates.rename, "rename", from);
    if (this.enabled && this.lyingRename?.(to)) {
      const dropped = this.capacityBytes === null ? 0 : this.sizeOf(from);
      this.inner.remove(from);
      this.usedAdd(-dropped);
      return;
    }
    const replaced = this.capacityBytes === null || from === to ? 0 : this.sizeOf(to);
    this.inner.rename(from, to);
    this.usedAdd(-replaced);
    const intended = this.damaged.get(from);
    this.damaged.delete(from);
    if (intended) this.damaged.set(to, intended);
    else this.damaged.delete(to);
    this.renames.push({ from, to, opIndex: this.opCount });
  }

  syncDir(dir: string): void {
    this.enter("syncDir", dir);
    this.maybeFail(this.rates.syncDir, "syncDir", dir);
    this.inner.syncDir(dir);
    this.counters.syncs++;
  }

  readFile(path: string): Uint8Array {
    this.enter("readFile", path);
    this.maybeFail(this.rates.read, "readFile", path);
    const data = this.inner.readFile(path);
    this.counters.bytesRead += data.byteLength;
    return data;
  }

  readFileInto(path: string, into: Uint8Array): number {
    this.enter("readFileInto", path);
    this.maybeFail(this.rates.read, "readFileInto", path);
    const count = this.inner.readFileInto(path, into);
    this.counters.bytesRead += count;
    return count;
  }

  fileSize(path: string): number {
    this.enter("fileSize", path);
    this.maybeFail(this.rates.read, "fileSize", path);
    return this.inner.fileSize(path);
  }

  private removeFault(op: HalOp, path: string): void {
    if (!this.enabled || !this.prng.chance(this.rates.remove, FAULT_RATE_SCALE)) return;
    this.record("io-error", op, path);
    throw new HalError(this.prng.pick(REMOVE_CODES), op, path, "injected fault");
  }

  remove(path: string): void {
    this.enter("remove", path);
    this.removeFault("remove", path);
    const bytes = this.capacityBytes === null ? 0 : this.sizeOf(path);
    this.inner.remove(path);
    this.usedAdd(-bytes);
    this.damaged.delete(path);
    this.counters.filesRemoved++;
  }

  async removeAsync(path: string): Promise<void> {
    const epoch = this.epoch;
    this.enter("removeAsync", path);
    this.removeFault("removeAsync", path);
    // The unlink lands later, off the main loop, unless the power was cut in between. It goes
    // through the wrapped Hal's synchronous remove so that "later" is exactly one microtask.
    await Promise.resolve();
    if (this.epoch !== epoch || this.dead) throw new HalError("EIO", "removeAsync", path, "device lost power");
    const bytes = this.capacityBytes === null ? 0 : this.sizeOf(path);
    try {
      this.inner.remove(path);
      this.usedAdd(-bytes);
    } catch (e) {
      if (!(e instanceof HalError)) throw e;
      throw new HalError(e.code, "removeAsync", e.path, e.message.replace(/^[A-Z]+: remove '[^']*'(: )?/, ""));
    }
    this.damaged.delete(path);
    this.counters.filesRemoved++;
  }

  list(dir: string): string[] {
    this.enter("list", dir);
    this.maybeFail(this.rates.meta, "list", dir);
    return this.inner.list(dir);
  }

  isDir(path: string): boolean {
    this.enter("isDir", path);
    this.maybeFail(this.rates.meta, "isDir", path);
    return this.inner.isDir(path);
  }

  exists(path: string): boolean {
    this.enter("exists", path);
    this.maybeFail(this.rates.meta, "exists", path);
    return this.inner.exists(path);
  }

  removeTree(dir: string): void {
    this.enter("removeTree", dir);
    this.maybeFail(this.rates.meta, "removeTree", dir);
    const bytes = this.capacityBytes === null ? 0 : this.inner.exists(dir) ? this.treeBytes(dir) : 0;
    this.inner.removeTree(dir);
    this.usedAdd(-bytes);
  }

  freeBytes(): number {
    this.enter("freeBytes", ".");
    this.maybeFail(this.rates.meta, "freeBytes", ".");
    let free = this.inner.freeBytes();
    if (this.diskBytesBudget !== null) free = Math.min(free, Math.max(0, this.diskBytesBudget - this.bytesWritten));
    if (this.capacityBytes !== null) free = Math.min(free, Math.max(0, this.capacityBytes - this.usedBytes()));
    return free;
  }

  stats(): HalStats {
    return this.counters.snapshot();
  }
}
