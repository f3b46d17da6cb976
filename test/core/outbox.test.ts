// The Outbox: drain(send) delivers every record of its streams once per successful send, in order.
// Shown with senders that fail on a schedule (every third call: the done-when case on
// esp32), senders that fail at random under seeded properties (several streams, batch sizes and
// batches in flight, writes and processMemory ticks between batches, aborts, a restart on the same
// storage), and the edges: an abort between batches, a failure while other batches are in flight,
// the event loop's timers during a drain, and bad options.

import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { Prng } from "../../host/base/prng.js";
import { UsageError } from "../../host/base/user-error.js";
import { loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { CoreError } from "../../host/core/errors.js";
import { flushDrain } from "../../host/core/flush.js";
import { Outbox, type OutboxBatch, type OutboxSender } from "../../host/core/outbox.js";
import { MemoryHal } from "../../host/hal/memory.js";

const DRAINS_MAX = 1000;

/** Writes `count` EVT records (values from `first`) to source/sensor, with a processMemory tick every `tickEvery`. */
function writeWithTicks(
  device: Device,
  source: number,
  sensor: number,
  first: number,
  count: number,
  clock: { nowMs: number },
): void {
  const tickMs = Math.max(1, device.board.tier.tickIntervalMs);
  for (let i = 0; i < count; i++) {
    device.writeEvt(source, sensor, first + i, clock.nowMs);
    if (i % 8 === 7) device.processMemory((clock.nowMs += tickMs));
  }
}

/** A sender that runs `receive` on each batch; a throw in it is the send's rejection. */
function sender(receive: (batch: OutboxBatch) => void): OutboxSender {
  return (batch) =>
    new Promise<void>((resolve) => {
      receive(batch);
      resolve();
    });
}

/** Drains until a drain resolves; returns how many drains it took. */
async function drainUntilDone(outbox: Outbox, send: OutboxSender): Promise<number> {
  for (let drains = 1; drains <= DRAINS_MAX; drains++) {
    try {
      await outbox.drain(send);
      return drains;
    } catch {
      // The sender failed: the batch was reverted; the next drain sends it again.
    }
  }
  throw new Error(`no drain resolved in ${DRAINS_MAX} tries`);
}

describe("Outbox.drain", () => {
  test("esp32, 200 EVT records, a sender failing every third call: all 200 arrive once, in order", async () => {
    const device = Device.create({ board: loadBoard("esp32"), hal: new MemoryHal(), nowMs: 0 });
    device.configureStream(0, 42, { type: "evt" });
    writeWithTicks(device, 0, 42, 0, 200, { nowMs: 0 });
    const received: number[] = [];
    let calls = 0;
    const send = sender((batch) => {
      calls++;
      if (calls % 3 === 0) throw new Error(`call ${calls} fails`);
      received.push(...batch.records.map((record) => record.value));
    });
    const outbox = new Outbox(device, { packetRecords: 16 });
    const drains = await drainUntilDone(outbox, send);
    expect(received).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(drains).toBeGreaterThan(1);
    expect(device.counts(0, 42)).toMatchObject({ total: 0, pending: 0 });
    // Nothing is left: another drain resolves without calling the sender.
    const before = calls;
    expect(await outbox.drain(send)).toEqual({ batches: 0, records: 0 });
    expect(calls).toBe(before);
  });

  test("a rejected send reverts its batch and drain rejects with the sender's error", async () => {
    const device = Device.create({ board: loadBoard("tiny"), hal: new MemoryHal() });
    device.configureStream(0, 1, { type: "evt" });
    for (let i = 0; i < 10; i++) device.writeEvt(0, 1, i, 1000 + i);
    const failure = new Error("link down");
    const outbox = new Outbox(device, { packetRecords: 4 });
    let calls = 0;
    await expect(
      outbox.drain(
        sender(() => {
          if (++calls === 2) throw failure;
        }),
      ),
    ).rejects.toBe(failure);
    // The first batch (4 records) was ACKed; the second was reverted; nothing is pending.
    expect(device.counts(0, 1)).toMatchObject({ total: 6, pending: 0, new: 6 });
  });

  test("an abort stops between batches: the batch in flight settles, drain rejects with the reason", async () => {
    const device = Device.create({ board: loadBoard("tiny"), hal: new MemoryHal() });
    device.configureStream(0, 1, { type: "evt" });
    for (let i = 0; i < 20; i++) device.writeEvt(0, 1, i, 1000 + i);
    const controller = new AbortController();
    const reason = new Error("stopping");
    const received: number[] = [];
    const outbox = new Outbox(device, { packetRecords: 5 });
    await expect(
      outbox.drain(
        sender((batch) => {
          received.push(...batch.records.map((r) => r.value));
          if (received.length === 10) controller.abort(reason);
        }),
        { signal: controller.signal },
      ),
    ).rejects.toBe(reason);
    expect(received).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(device.counts(0, 1)).toMatchObject({ total: 10, pending: 0 });
    // An aborted signal refuses at once; a fresh drain sends the rest.
    await expect(
      outbox.drain(
        sender(() => {}),
        { signal: controller.signal },
      ),
    ).rejects.toBe(reason);
    await outbox.drain(sender((batch) => void received.push(...batch.records.map((r) => r.value))));
    expect(received).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  test("batches in flight: at most maxInFlight, one per stream; a failure lets the others settle", async () => {
    const device = Device.create({ board: loadBoard("esp32"), hal: new MemoryHal() });
    const streams = [1, 2, 3, 4].map((sensor) => ({ source: 0, sensor }));
    for (const { source, sensor } of streams) {
      device.configureStream(source, sensor, { type: "evt" });
      for (let i = 0; i < 12; i++) device.writeEvt(source, sensor, i, 1000 + i);
    }
    const outbox = new Outbox(device, { streams, packetRecords: 3, maxInFlight: 3 });
    const active = new Set<number>();
    let activeMax = 0;
    let calls = 0;
    const failure = new Error("stream 2 rejected");
    const delivered = new Map<number, number[]>();
    let failed = false;
    let settledAfterFailure = 0;
    const send: OutboxSender = async (batch: OutboxBatch, { signal }) => {
      // No batch starts once one has failed.
      expect(failed).toBe(false);
      expect(active.has(batch.sensor)).toBe(false);
      active.add(batch.sensor);
      activeMax = Math.max(activeMax, active.size);
      const call = ++calls;
      await new Promise((resolve) => setTimeout(resolve, call === 5 ? 0 : 5));
      active.delete(batch.sensor);
      if (call === 5) {
        failed = true;
        throw failure;
      }
      // The others in flight see the abort but still resolve: their records were delivered.
      if (failed) {
        expect(signal.aborted).toBe(true);
        settledAfterFailure++;
      }
      delivered.set(batch.sensor, [...(delivered.get(batch.sensor) ?? []), ...batch.records.map((r) => r.value)]);
    };
    await expect(outbox.drain(send)).rejects.toBe(failure);
    expect(activeMax).toBe(3);
    expect(settledAfterFailure).toBeGreaterThan(0);
    failed = false;
    for (const { source, sensor } of streams) expect(device.counts(source, sensor).pending).toBe(0);
    await outbox.drain(send);
    for (const { sensor } of streams) expect(delivered.get(sensor)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  test("processMemory keeps its tick while a drain runs, even with a sender that resolves at once", async () => {
    const device = Device.create({ board: loadBoard("tiny"), hal: new MemoryHal(), nowMs: 0 });
    device.configureStream(0, 1, { type: "evt" });
    const clock = { nowMs: 0 };
    writeWithTicks(device, 0, 1, 0, 2 * device.board.memory.sectorCount, clock);
    let ticks = 0;
    const timer = setInterval(() => {
      device.processMemory((clock.nowMs += 1));
      ticks++;
    }, 1);
    const received: number[] = [];
    try {
      await new Outbox(device, { packetRecords: 1 }).drain(
        sender((batch) => {
          received.push(batch.records[0]?.value ?? -1);
          // A send that takes a fifth of a millisecond of CPU: ticks must fall between the batches.
          const until = performance.now() + 0.2;
          while (performance.now() < until);
        }),
      );
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(5);
    expect(received.length + device.stats().recordsDiscarded).toBe(2 * device.board.memory.sectorCount);
    expect(received).toEqual([...received].sort((a, b) => a - b));
  });

  test("records read outside the outbox and never ACKed are sent again by the next drain", async () => {
    const device = Device.create({ board: loadBoard("tiny"), hal: new MemoryHal() });
    device.configureStream(0, 1, { type: "evt" });
    for (let i = 0; i < 6; i++) device.writeEvt(0, 1, i, 1000 + i);
    expect(device.readBulk(0, 1, 4)).toHaveLength(4);
    const received: number[] = [];
    await new Outbox(device).drain(sender((batch) => void received.push(...batch.records.map((r) => r.value))));
    expect(received).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test("bad options and a second drain of the same device are refused", async () => {
    const device = Device.create({ board: loadBoard("tiny"), hal: new MemoryHal() });
    device.configureStream(0, 1, { type: "evt" });
    device.writeEvt(0, 1, 1, 1000);
    expect(() => new Outbox(device, { packetRecords: 0 })).toThrow(UsageError);
    expect(() => new Outbox(device, { packetRecords: device.bulkCapacity + 1 })).toThrow(UsageError);
    expect(() => new Outbox(device, { maxInFlight: 0 })).toThrow(UsageError);
    expect(() => new Outbox(device, { maxInFlight: 1.5 })).toThrow(UsageError);
    expect(() => new Outbox(device, { streams: [{ source: 9, sensor: 9 }] })).toThrow(CoreError);
    let release: () => void = () => {};
    const first = new Outbox(device).drain(() => new Promise<void>((resolve) => (release = resolve)));
    await expect(new Outbox(device).drain(async () => {})).rejects.toThrow(UsageError);
    await new Promise((resolve) => setImmediate(resolve));
    release();
    expect(await first).toEqual({ batches: 1, records: 1 });
  });
});

describe("Outbox.drain under seeded random failures (property)", () => {
  // esp32 with 128 sectors of RAM: a round's writes spill, so batches mix disk and RAM records.
  const esp32 = loadBoard("esp32");
  const board = { ...esp32, memory: { ...esp32.memory, sectorCount: 128 } };
  const tiersSeen = new Set<string>();
  const streams = [
    { source: 0, sensor: 7 },
    { source: 1, sensor: 8 },
    { source: 2, sensor: 9 },
  ];

  test("every record arrives once and in order, through failures, aborts, writes between drains and a restart", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 60 }),
        async (seed, packetRecords, maxInFlight, failPercent) => {
          const prng = new Prng(seed);
          const hal = new MemoryHal();
          const clock = { nowMs: 0 };
          let device = Device.create({ board, hal, nowMs: 0 });
          for (const { source, sensor } of streams) device.configureStream(source, sensor, { type: "evt" });
          const written = streams.map(() => 0);
          const delivered = streams.map((): number[] => []);
          const send: OutboxSender = async (batch, { signal }) => {
            if (prng.chance(1, 3)) await new Promise((resolve) => setImmediate(resolve));
            if (prng.chance(failPercent, 100)) throw new Error("random failure");
            if (signal.aborted && prng.chance(1, 2)) throw signal.reason;
            const index = streams.findIndex((s) => s.source === batch.source && s.sensor === batch.sensor);
            delivered[index]?.push(...batch.records.map((r) => r.value));
            for (const record of batch.records) tiersSeen.add(record.tier);
          };
          for (let round = 0; round < 8; round++) {
            // Write to the streams: a few rounds fill RAM past its spill threshold, so batches hold disk and RAM records.
            streams.forEach(({ source, sensor }, index) => {
              const count = prng.below(150);
              writeWithTicks(device, source, sensor, written[index] ?? 0, count, clock);
              written[index] = (written[index] ?? 0) + count;
            });
            if (round === 4) {
              // A clean restart on the same storage: flush, then a new device adopts the files.
              device.flushAllToDisk();
              flushDrain(device, () => device.processMemory((clock.nowMs += 100)), 10_000);
              device = Device.create({ board, hal, nowMs: clock.nowMs });
            }
            const outbox = new Outbox(device, { packetRecords, maxInFlight });
            const controller = new AbortController();
            const abortAfter = prng.chance(1, 4) ? prng.below(4) : -1;
            let batches = 0;
            const counted: OutboxSender = async (batch, context) => {
              if (batches++ === abortAfter) controller.abort(new Error("abort"));
              return send(batch, context);
            };
            await outbox.drain(counted, { signal: controller.signal }).catch(() => undefined);
            for (const { source, sensor } of streams) expect(device.counts(source, sensor).pending).toBe(0);
          }
          // A last run of drains with a sender that no longer fails empties every stream.
          await drainUntilDone(
            new Outbox(device, { packetRecords, maxInFlight }),
            sender((batch) => {
              const index = streams.findIndex((s) => s.source === batch.source && s.sensor === batch.sensor);
              delivered[index]?.push(...batch.records.map((r) => r.value));
            }),
          );
          expect(device.stats().recordsDiscarded).toBe(0);
          streams.forEach((_, index) => {
            expect(delivered[index]).toEqual(Array.from({ length: written[index] ?? 0 }, (_, i) => i));
          });
        },
      ),
      { numRuns: 25 },
    );
    expect([...tiersSeen].sort()).toEqual(["disk", "ram"]);
  });
});
