// `run --ram-dump` writes exactly the board's RAM and `inspect` finds its invariants hold; a dump
// of a device with data in RAM, corrupted with a chain cycle and with a sector put on two lists,
// makes `inspect` name each violation and exit 1.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { coreStatePtr, ramInspect } from "../../host/inspect/inspect.js";
import { RamView, SAT, STATE, STREAM } from "../../host/inspect/ram-layout.js";
import { CLI, ROOT } from "../run/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "imx-memsim-inspect-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const board = loadBoard("fc1-imx6");

/** A device with two streams holding several RAM sectors each, as a dump. */
function dumpWithChains(): Uint8Array {
  const device = Device.create({ board, hal: new MemoryHal() });
  device.configureStream(1, 10, { type: "tsd", sampleRateMs: 1000 });
  device.configureStream(1, 11, { type: "evt" });
  for (let i = 0; i < 60; i++) {
    device.writeTsd(1, 10, i, 1_000_000 + i * 1000);
    device.writeEvt(1, 11, i, 1_000_000 + i * 1000);
  }
  return device.snapshot();
}

describe("inspect", () => {
  it("reads a run's RAM dump: exactly the board's RAM, no violation", () => {
    const path = join(dir, "ram.bin");
    execFileSync(process.execPath, [CLI, "run", "--duration", "2h", "--speed", "max", "--quiet", "--ram-dump", path], {
      cwd: ROOT,
    });
    expect(readFileSync(path).length).toBe(board.memory.ramBytes);
    const result = spawnSync(
      process.execPath,
      [CLI, "inspect", path, "--board", "fc1-imx6", "--json", join(dir, "r.json")],
      {
        cwd: ROOT,
        encoding: "utf8",
      },
    );
    expect(result.stdout).toContain("invariants hold");
    expect(result.status).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, "r.json"), "utf8")) as {
      violations: unknown[];
      streams: unknown[];
    };
    expect(report.violations).toEqual([]);
    expect(report.streams.length).toBe(12);
  });

  it("finds no violation in a device with data in RAM", () => {
    const report = ramInspect(dumpWithChains(), board);
    expect(report.violations).toEqual([]);
    expect(report.streams[0]?.sectors.length).toBe(10);
    expect(report.sat.free + report.sat.used).toBe(2048);
  });

  it("names a chain cycle and a sector owned twice", () => {
    const dump = dumpWithChains();
    const ram = new RamView(dump, coreStatePtr());
    const view = new DataView(dump.buffer, dump.byteOffset, dump.byteLength);
    // Stream 0: its third sector points back to its first.
    const head0 = ram.u32(ram.streamEntry(0) + STREAM.ramHead);
    const second = ram.u32(ram.satEntry(head0) + SAT.next);
    const third = ram.u32(ram.satEntry(second) + SAT.next);
    view.setUint32(ram.satEntry(third) + SAT.next, head0, true);
    // Stream 1: its head sector also becomes the free list's head (on two lists at once).
    const head1 = ram.u32(ram.streamEntry(1) + STREAM.ramHead);
    const freeHead = ram.state(STATE.satFreeHead);
    view.setUint32(ram.satEntry(head1) + SAT.next, freeHead, true);
    view.setUint32(ram.statePtr + STATE.satFreeHead, head1, true);
    const path = join(dir, "corrupt.bin");
    writeFileSync(path, dump);

    const result = spawnSync(process.execPath, [CLI, "inspect", path, "--board", "fc1-imx6"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`stream 0's chain does not terminate: it comes back to sector ${head0} (a cycle)`);
    expect(result.stdout).toContain(`sector ${head1} is owned twice: on the free list and on stream 1's chain`);
  });

  it("refuses a file that is not a dump of the board (exit 2)", () => {
    const path = join(dir, "short.bin");
    writeFileSync(path, new Uint8Array(10));
    const result = spawnSync(process.execPath, [CLI, "inspect", path, "--board", "fc1-imx6"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
  });
});
