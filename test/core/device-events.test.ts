// device.on(event, listener): each event fires in a real scenario with the payload that the
// device's own counters confirm — spills (sectors moved, per stream), discards (RAM full on a
// RAM-only board, a forced cleanup, a sensor reset: reason and record count), evictions (the
// oldest file given up on a full disk under evict-oldest), quarantines (a corrupt file at boot,
// seen by listeners given to Device.create) and cleanup completion (after the last acknowledged
// file is deleted). Listeners run after the call that caused the event, and may call the device.
// The injectable logger gets each line through the method of its level.

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadBoard, withOverrides } from "../../host/boards.js";
import { Device, type DeviceEvents } from "../../host/core/device.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { readAll, SAMPLE_RATE_MS, TickClock, tsdPerSector, tsdWrite, uploadAll } from "../support/tier-helpers.js";

const root = mkdtempSync(join(tmpdir(), "imx-memsim-device-events-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every payload of `event` the device delivers, in order. */
function recorded<E extends keyof DeviceEvents>(device: Device, event: E): Array<DeviceEvents[E]> {
  const payloads: Array<DeviceEvents[E]> = [];
  device.on(event, (payload) => payloads.push(payload));
  return payloads;
}

describe("device events", () => {
  it("spill: the sectors each spill moved, per stream, add up to the device's count", () => {
    const board = loadBoard("tiny");
    const device = Device.create({ board, hal: new MemoryHal() });
    const spills = recorded(device, "spill");
    const clock = new TickClock(board);
    device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const perSector = tsdPerSector(board);
    for (let i = 0; i < 40; i++) {
      tsdWrite(device, 1, 10, i * perSector, perSector);
      clock.tick(device);
    }
    const stats = device.stats();
    expect(stats.spills).toBeGreaterThan(1);
    expect(spills).toHaveLength(stats.spills);
    expect(spills.every((s) => s.source === 1 && s.sensor === 10 && s.sectors > 0)).toBe(true);
    expect(spills.reduce((sum, s) => sum + s.sectors, 0)).toBe(stats.sectorsSpilled);
  });

  it("discard (ram-full): a RAM-only board gives up its oldest sectors, each counted", () => {
    const board = loadBoard("nrf52840");
    const device = Device.create({ board });
    const discards = recorded(device, "discard");
    device.configureStream(2, 5, { type: "evt" });
    const records = board.memory.sectorCount * 3;
    for (let i = 0; i < records; i++) device.writeEvt(2, 5, i, 1_000 + i);
    const stats = device.stats();
    expect(stats.recordsDiscarded).toBeGreaterThan(0);
    expect(discards.length).toBe(stats.sectorsDiscarded);
    expect(discards.every((d) => d.reason === "ram-full" && d.source === 2 && d.sensor === 5)).toBe(true);
    expect(discards.reduce((sum, d) => sum + d.records, 0)).toBe(stats.recordsDiscarded);
    expect(device.counts(2, 5).discarded).toBe(stats.recordsDiscarded);
  });

  it("eviction: a full disk under evict-oldest gives up the oldest file, with the records it held", () => {
    const board = withOverrides(loadBoard("tiny"), { diskFullPolicy: "evict-oldest" });
    const device = Device.create({ board, hal: new MemoryHal() });
    const evictions = recorded(device, "eviction");
    const clock = new TickClock(board);
    const perFile = (board.disk?.sectorsPerFileMax ?? 0) * tsdPerSector(board);
    for (const sensor of [10, 11]) device.configureStream(1, sensor, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    for (let round = 0; round < 4; round++) {
      for (const sensor of [10, 11]) {
        tsdWrite(device, 1, sensor, round * perFile, perFile);
        device.flushAllToDisk();
        clock.tickUntil(device, () => device.getFlushProgress() === 101, 20);
      }
    }
    expect(evictions).toEqual([]);
    tsdWrite(device, 1, 10, 4 * perFile, 3 * perFile);
    clock.tick(device);
    clock.tick(device);
    expect(device.stats().filesDiscarded).toBe(2);
    expect(evictions).toEqual([
      { source: 1, sensor: 10, records: perFile },
      { source: 1, sensor: 11, records: perFile },
    ]);
  });

  it("discard (forced-cleanup and reset): the records each call removed", () => {
    const board = loadBoard("tiny");
    const device = Device.create({ board, hal: new MemoryHal() });
    const discards = recorded(device, "discard");
    const clock = new TickClock(board);
    device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    tsdWrite(device, 1, 10, 0, 2 * tsdPerSector(board));
    device.flushAllToDisk();
    clock.tickUntil(device, () => device.getFlushProgress() === 101, 20);
    const forced = device.forceCleanupAllDiskFiles();
    expect(forced.recordsDiscarded).toBeGreaterThan(0);
    expect(discards).toEqual([
      { source: null, sensor: null, reason: "forced-cleanup", records: forced.recordsDiscarded },
    ]);

    tsdWrite(device, 1, 10, 100, 5);
    expect(device.resetSensor(1, 10)).toBe(5);
    expect(discards[1]).toEqual({ source: 1, sensor: 10, reason: "reset", records: 5 });
  });

  it("cleanupComplete: once, after the last acknowledged file is deleted; a listener may call the device", async () => {
    const board = withOverrides(loadBoard("esp32"), { cleanupPolicy: "immediate" });
    const device = Device.create({ board, hal: new MemoryHal() });
    const seen: Array<DeviceEvents["cleanupComplete"] & { complete: boolean }> = [];
    device.on("cleanupComplete", (payload) => seen.push({ ...payload, complete: device.isCleanupComplete() }));
    const clock = new TickClock(board);
    device.configureStream(0, 1, { type: "evt" });
    for (let i = 0; i < 500; i++) device.writeEvt(0, 1, i, 1_000 + i);
    device.flushAllToDisk();
    clock.tickUntil(device, () => device.getFlushProgress() === 101, 200);
    const files = device.stats().filesLive;
    expect(files).toBeGreaterThan(1);
    expect(seen).toEqual([]);

    expect(uploadAll(device, 0, 1)).toHaveLength(500);
    clock.tickUntil(device, () => device.isCleanupComplete() && device.stats().filesLive === 0, 200);
    await device.settle();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ filesDeleted: files, complete: true });
    expect(seen[0]?.bytesDeleted).toBe(device.stats().bytesDeleted);
  });

  it("quarantine: a corrupt file found by boot recovery reaches listeners given to Device.create", async () => {
    const board = loadBoard("esp32");
    const dir = join(root, "quarantine");
    const first = Device.create({ board, storageDir: dir });
    first.configureStream(0, 1, { type: "evt" });
    for (let i = 0; i < 200; i++) first.writeEvt(0, 1, i, 1_000 + i);
    await first.close();
    const history = join(dir, "history");
    const imx = readdirSync(history, { recursive: true })
      .map(String)
      .filter((name) => name.endsWith(".imx"));
    expect(imx.length).toBeGreaterThan(0);
    writeFileSync(join(history, imx[0] ?? ""), "not an imx file");

    const quarantined: Array<DeviceEvents["quarantine"]> = [];
    const warnings: string[] = [];
    const logger = { error: () => {}, warn: (line: string) => warnings.push(line), info: () => {}, debug: () => {} };
    const device = Device.create({ board, storageDir: dir, logger, on: { quarantine: (f) => quarantined.push(f) } });
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]?.path).toContain(imx[0]);
    expect(quarantined[0]?.movedTo).toMatch(/^corrupted\//);
    expect(quarantined).toEqual(device.recovery?.quarantined);
    // The logger got recovery's line at warn level.
    expect(warnings).toContainEqual(expect.stringContaining(`quarantined`));
    expect(readAll(device, 0, 1).length).toBeLessThan(200);
    await device.close();
  });

  it("off() removes a listener; the logger gets each line by its level, from info up by default", () => {
    const board = loadBoard("tiny");
    const lines: Array<[string, string]> = [];
    const logger = {
      error: (line: string) => lines.push(["error", line]),
      warn: (line: string) => lines.push(["warn", line]),
      info: (line: string) => lines.push(["info", line]),
      debug: (line: string) => lines.push(["debug", line]),
    };
    const device = Device.create({ board, hal: new MemoryHal(), logger });
    const spills: unknown[] = [];
    const listener = (payload: unknown) => spills.push(payload);
    device.on("spill", listener).off("spill", listener);
    const clock = new TickClock(board);
    device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    tsdWrite(device, 1, 10, 0, 3 * tsdPerSector(board));
    device.flushAllToDisk();
    clock.tickUntil(device, () => device.getFlushProgress() === 101, 20);
    expect(device.stats().spills).toBeGreaterThan(0);
    expect(spills).toEqual([]);
    expect(lines).toContainEqual(["info", expect.stringContaining("flush complete")]);
    expect(lines.some(([level]) => level === "debug")).toBe(false);

    const verbose: string[] = [];
    const debugDevice = Device.create({
      board,
      hal: new MemoryHal(),
      log: "debug",
      logger: { ...logger, debug: (line: string) => verbose.push(line) },
    });
    debugDevice.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    tsdWrite(debugDevice, 1, 10, 0, 3 * tsdPerSector(board));
    debugDevice.flushAllToDisk();
    new TickClock(board).tickUntil(debugDevice, () => debugDevice.getFlushProgress() === 101, 20);
    expect(verbose).toContainEqual(expect.stringMatching(/spilled \d+ sectors of stream 0/));
  });
});
