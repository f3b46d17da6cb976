// `verify` names every kind of damage a storage can suffer, changes no byte of it while it looks,
// and its --repair leaves a storage a second verify calls clean. Each seed copies one healthy
// storage (three streams on tiny, many files, a positions file), damages one to three distinct
// files in ways a seeded PRNG picks (a flipped byte, a cut, a move to another bucket, a copy
// there, a temp file, a damaged positions file), then checks: read-only verify finds exactly those
// files with the expected codes and leaves the tree byte-for-byte as it was; --repair does what
// boot recovery does; a read-only verify after it is clean (exit 0). IMX_SEED replays one seed.

import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { flushDrain } from "../../host/core/flush.js";
import { HISTORY_BUCKETS, IMX_SUFFIX, imxPathParse } from "../../host/format/imx.js";
import { ACK_LOG_PATH, POSITIONS_PATH } from "../../host/format/positions.js";
import { listFilesRecursive } from "../../host/hal/atomic.js";
import { NodeFsHal } from "../../host/hal/node-fs.js";
import { type FindingCode, storageVerify } from "../../host/verify/verify.js";
import { snapshot } from "../run/helpers.js";
import { Prng, seedFromEnv } from "../support/prng.js";

const board = loadBoard("tiny");
let root: string;
let healthy: string;

/** A storage of three streams on tiny: records written, some read and acknowledged, flushed to disk. */
function storageMake(dir: string): void {
  // Left open, as a device that loses power: it takes no lock, so verify sees no live holder.
  const device = Device.create({ board, storageDir: dir, policy: "immediate", lock: false });
  device.configureStream(1, 1, { type: "tsd", sampleRateMs: 10 });
  device.configureStream(1, 2, { type: "evt", dataType: "int32" });
  device.configureStream(2, 7, { type: "tsd", sampleRateMs: 1000, dataType: "float32" });
  let nowMs = 1000;
  for (let k = 0; k < 60; k++) {
    device.writeTsd(1, 1, k, 1000 + k * 10);
    device.writeEvt(1, 2, -k, 1000 + k * 7);
    device.writeTsd(2, 7, k / 4, 1000 + k * 1000);
    device.processMemory((nowMs += 10));
  }
  // An ACK that erases disk records writes the positions file.
  const read = device.readBulk(1, 1, 10);
  device.ack(1, 1, read.length);
  device.flushAllToDisk();
  expect(flushDrain(device, () => device.processMemory((nowMs += 10)), 1000)).toBeGreaterThanOrEqual(0);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "imx-verify-damage-"));
  healthy = join(root, "healthy");
  storageMake(healthy);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

function imxFiles(dir: string): string[] {
  return listFilesRecursive(new NodeFsHal(dir), "history", IMX_SUFFIX);
}

interface Damage {
  kind: "flip" | "truncate" | "move" | "copy" | "temp" | "positions";
  /** The path verify must name, and the code it must give it. */
  path: string;
  code: FindingCode;
}

function otherBucket(path: string, prng: Prng): string {
  const name = imxPathParse(path);
  const bucket = ((name?.bucket ?? 0) + 1 + prng.below(HISTORY_BUCKETS - 1)) % HISTORY_BUCKETS;
  return path.replace(/^history\/\d\//, `history/${bucket}/`);
}

/** Damages `file` (relative to `dir`) in the way `kind` says; returns what verify must report. */
function damage(dir: string, file: string, kind: Damage["kind"], prng: Prng): Damage {
  const full = join(dir, file);
  const data = existsSync(full) ? readFileSync(full) : Buffer.alloc(0);
  switch (kind) {
    case "flip": {
      const at = prng.below(data.length);
      data[at] = (data[at] ?? 0) ^ (1 + prng.below(255));
      writeFileSync(full, data);
      return { kind, path: file, code: "imx.refused" };
    }
    case "truncate":
      writeFileSync(full, data.subarray(0, prng.below(data.length)));
      return { kind, path: file, code: "imx.refused" };
    case "move":
    case "copy": {
      const to = otherBucket(file, prng);
      mkdirSync(dirname(join(dir, to)), { recursive: true });
      if (kind === "move") {
        writeFileSync(join(dir, to), data);
        rmSync(full);
        return { kind, path: to, code: "imx.misplaced" };
      }
      writeFileSync(join(dir, to), data);
      return { kind, path: to, code: "imx.copy" };
    }
    case "temp": {
      const tmp = `${file}.tmp`;
      writeFileSync(join(dir, tmp), data.subarray(0, prng.below(data.length + 1)));
      return { kind, path: tmp, code: "tmp.orphan" };
    }
    case "positions": {
      const at = prng.below(data.length + 1);
      if (at === data.length || prng.below(2) === 0)
        writeFileSync(full, data.subarray(0, Math.min(at, data.length - 1)));
      else {
        data[at] = (data[at] ?? 0) ^ (1 + prng.below(255));
        writeFileSync(full, data);
      }
      return { kind, path: POSITIONS_PATH, code: "positions.refused" };
    }
  }
}

const KINDS: ReadonlyArray<Exclude<Damage["kind"], "positions">> = ["flip", "truncate", "move", "copy", "temp"];
const SEEDS = 40;
const firstSeed = seedFromEnv(1);
const seeds = process.env["IMX_SEED"] ? [firstSeed] : Array.from({ length: SEEDS }, (_, i) => firstSeed + i);

describe("verify on a damaged storage", () => {
  it("the healthy storage is clean, has an ACK log and many files", () => {
    expect(existsSync(join(healthy, ACK_LOG_PATH))).toBe(true);
    expect(imxFiles(healthy).length).toBeGreaterThanOrEqual(6);
    const report = storageVerify(healthy, { board: "tiny" });
    expect(report.exitCode).toBe(0);
    expect(report.findings.map((f) => f.code)).toEqual(["identity.missing"]);
    expect(report.adopted.streams).toBe(3);
  });

  it.each(seeds)("seed %i: names each damaged file, changes nothing, and --repair leaves it clean", (seed) => {
    const prng = new Prng(seed);
    const dir = join(root, `seed-${seed}`);
    cpSync(healthy, dir, { recursive: true });
    const files = imxFiles(dir);
    const damages: Damage[] = [];
    const count = 1 + prng.below(3);
    for (let i = 0; i < count && files.length > 0; i++) {
      const file = files.splice(prng.below(files.length), 1)[0] as string;
      const kind = KINDS[prng.below(KINDS.length)] ?? "flip";
      damages.push(damage(dir, file, kind, prng));
    }
    if (prng.below(4) === 0) damages.push(damage(dir, POSITIONS_PATH, "positions", prng));
    const shown = `seed ${seed}: ${damages.map((d) => `${d.kind} ${d.path}`).join(", ")}`;

    const before = snapshot(dir);
    const report = storageVerify(dir, { board: "tiny" });
    expect(snapshot(dir), `${shown}: read-only verify changed the storage`).toEqual(before);
    expect(report.exitCode, shown).toBe(1);
    const problems = report.findings.filter((f) => f.severity === "problem");
    expect(problems.map((f) => `${f.code} ${f.path}`).sort(), shown).toEqual(
      damages.map((d) => `${d.code} ${d.path}`).sort(),
    );
    expect(
      problems.every((f) => f.action !== null && !f.repaired),
      shown,
    ).toBe(true);

    const repaired = storageVerify(dir, { board: "tiny", repair: true });
    expect(repaired.exitCode, shown).toBe(0);
    expect(repaired.clean, shown).toBe(true);
    expect(repaired.counts.repaired, shown).toBe(damages.length);
    expect(
      repaired.findings
        .filter((f) => f.severity === "problem")
        .map((f) => f.path)
        .sort(),
      shown,
    ).toEqual(problems.map((f) => f.path).sort());
    // What the read-only pass said recovery would do is what the repair did.
    expect(repaired.findings.filter((f) => f.severity === "problem").map((f) => [f.code, f.path, f.to])).toEqual(
      problems.map((f) => [f.code, f.path, f.to]),
    );
    for (const d of damages) {
      if (d.kind !== "move") expect(existsSync(join(dir, d.path)), `${shown}: ${d.path} is still there`).toBe(false);
    }

    const after = storageVerify(dir, { board: "tiny" });
    expect(after.exitCode, shown).toBe(0);
    expect(after.counts.problems, shown).toBe(0);
    const quarantined = damages.filter((d) => d.code === "imx.refused" || d.code === "positions.refused").length;
    if (quarantined > 0)
      expect(
        after.findings.map((f) => f.code),
        shown,
      ).toContain("corrupted.present");
    rmSync(dir, { recursive: true, force: true });
  });
});
