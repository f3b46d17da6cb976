// Real small filesystems for the full-disk tests: a tmpfs mounted where the test says. Mounting
// needs root; without it the caller skips the case and prints why (tmpfsAvailable).

import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";

/** Whether this process may mount a tmpfs (it runs as root). */
export const CAN_MOUNT = process.getuid?.() === 0;

/** Whether a real tmpfs case can run; prints why `what` is skipped when it cannot. */
export function tmpfsAvailable(what: string): boolean {
  if (!CAN_MOUNT) console.log(`${what}: not root, so no tmpfs can be mounted: ${what} is skipped`);
  return CAN_MOUNT;
}

/** A tmpfs at `dir` (created if missing), mounted with mount(8)'s `size=` option, e.g. "1m". */
export class Tmpfs {
  private mounted = false;

  constructor(readonly dir: string) {}

  mount(size: string): void {
    mkdirSync(this.dir, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", this.dir]);
    this.mounted = true;
  }

  /** Enlarges (or shrinks) the mounted filesystem, keeping its files. */
  resize(size: string): void {
    execFileSync("mount", ["-o", `remount,size=${size}`, this.dir]);
  }

  /** Unmounts it if mounted; safe to call twice. */
  unmount(): void {
    if (this.mounted) execFileSync("umount", [this.dir]);
    this.mounted = false;
  }
}
