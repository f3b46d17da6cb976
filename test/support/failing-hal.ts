// A Hal wrapper that injects faults: told to, it throws HalError(code) from the next N calls of one
// operation (remove, removeAsync, writeFile or rename) and otherwise passes every call through to
// the Hal it wraps. It counts the calls it saw per operation, failed ones included, and remembers
// the paths of removals it attempted, so a test can see every deletion attempt the core made.

import { type Hal, HalError, type HalErrorCode } from "../../host/hal/hal.js";
import { HalWrapper } from "../../host/hal/hal-wrapper.js";

export type FaultOp = "remove" | "removeAsync" | "writeFile" | "rename";

interface Fault {
  code: HalErrorCode;
  remaining: number;
  /** Only paths ending with this fail (all paths when empty). */
  pathSuffix: string;
}

export class FailingHal extends HalWrapper {
  private readonly faults = new Map<FaultOp, Fault>();
  /** Calls seen per operation, including the ones that were made to fail. */
  readonly calls: Record<FaultOp, number> = { remove: 0, removeAsync: 0, writeFile: 0, rename: 0 };
  /** Faults actually thrown per operation. */
  readonly failures: Record<FaultOp, number> = { remove: 0, removeAsync: 0, writeFile: 0, rename: 0 };
  /** Every path passed to remove or removeAsync, in call order. */
  readonly removeAttempts: string[] = [];

  constructor(inner: Hal) {
    super(inner, `failing(${inner.kind})`);
  }

  /**
   * The next `times` calls of `op` throw HalError(code) (removeAsync rejects with it); with
   * `pathSuffix`, only calls on paths ending with it fail (and count).
   */
  failNext(op: FaultOp, code: HalErrorCode, times = 1, pathSuffix = ""): void {
    this.faults.set(op, { code, remaining: times, pathSuffix });
  }

  /** Stops every injected fault. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Faults still to be thrown for `op`. */
  faultsLeft(op: FaultOp): number {
    return this.faults.get(op)?.remaining ?? 0;
  }

  private fault(op: FaultOp, path: string): HalError | undefined {
    this.calls[op]++;
    const fault = this.faults.get(op);
    if (fault === undefined || fault.remaining <= 0 || !path.endsWith(fault.pathSuffix)) return undefined;
    fault.remaining--;
    this.failures[op]++;
    return new HalError(fault.code, op, path, "injected fault");
  }

  override writeFile(path: string, data: Uint8Array): void {
    const error = this.fault("writeFile", path);
    if (error) throw error;
    this.inner.writeFile(path, data);
  }

  override rename(from: string, to: string): void {
    const error = this.fault("rename", from);
    if (error) throw error;
    this.inner.rename(from, to);
  }

  override remove(path: string): void {
    this.removeAttempts.push(path);
    const error = this.fault("remove", path);
    if (error) throw error;
    this.inner.remove(path);
  }

  override removeAsync(path: string): Promise<void> {
    this.removeAttempts.push(path);
    const error = this.fault("removeAsync", path);
    if (error) return Promise.reject(error);
    return this.inner.removeAsync(path);
  }
}
