// RAM bounds: the core never writes outside its layout and the memory never grows. After boot we
// fill every byte from the end of the core's layout to the end of the page-rounded memory with a
// sentinel pattern (Device.create boots at once, so this cannot happen before boot), run a heavy
// seeded random workload (writes, bulk reads, peeks, acks, reverts, raw sectors, process_memory
// ticks and flushes, on a MemoryHal disk tier where the board has one), and check that every
// sentinel byte is intact and the memory's size and buffer never changed. The sentinel region has
// two parts, checked and reported apart: [layoutBytes, ramBytes) is RAM the core left unused;
// [ramBytes, byteLength) is past the device's RAM altogether (empty on a board whose ramBytes is a
// whole number of pages). A failure prints the board and seed; IMX_SEED=<seed> replays it.

import { describe, expect, test } from "vitest";
import { listBoards, type Board } from "../../host/boards.js";
import { Device, type StreamConfig } from "../../host/core/device.js";
import { CoreError } from "../../host/core/errors.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { Prng, seedFromEnv } from "../support/prng.js";
import { flushDrain } from "../../host/core/flush.js";

const OPERATIONS = 6_000;
// A flush can stall when the file table is full of unacknowledged files; the workload then moves on.
const FLUSH_TICKS_MAX = 2_000;

function sentinelByte(offset: number): number {
  return ((offset * 151) ^ (offset >>> 8) ^ 0xa5) & 0xff;
}

function sentinelFill(memory: Uint8Array, from: number): void {
  for (let offset = from; offset < memory.length; offset++) memory[offset] = sentinelByte(offset);
}

/** The first offset in [from, to) whose sentinel byte changed, or -1. */
function sentinelBroken(memory: Uint8Array, from: number, to: number): number {
  for (let offset = from; offset < to; offset++) {
    if (memory[offset] !== sentinelByte(offset)) return offset;
  }
  return -1;
}

/** Calls `action`, accepting only the CoreErrors a full device may answer with. */
function tolerating(codeNames: readonly string[], action: () => void): void {
  try {
    action();
  } catch (error) {
    if (error instanceof CoreError && codeNames.includes(error.codeName)) return;
    throw error;
  }
}

const STREAM_CONFIGS: StreamConfig[] = [
  { type: "tsd", dataType: "float32", sampleRateMs: 1_000 },
  { type: "evt", dataType: "uint32" },
  { type: "evt", dataType: "int32" },
  { type: "tsd", dataType: "int32", sampleRateMs: 60_000 },
  { type: "evt", dataType: "float32" },
  { type: "tsd", dataType: "uint32", sampleRateMs: 10 },
];

async function heavyWorkload(device: Device, random: Prng): Promise<void> {
  const board = device.board;
  const streamCount = Math.min(board.memory.streamsMax, STREAM_CONFIGS.length);
  for (let s = 0; s < streamCount; s++) device.configureStream(s, 1000 + s, STREAM_CONFIGS[s]!);
  const burstMax = Math.max(4, Math.floor(board.memory.sectorCount / 4));
  const bufferBefore = device.memory.buffer;
  const rawSectors: number[] = [];
  let nowMs = 1_700_000_000_000;

  for (let step = 0; step < OPERATIONS; step++) {
    const s = random.intIn(0, streamCount - 1);
    const choice = random.intIn(0, 99);
    if (choice < 40) {
      const count = random.intIn(1, burstMax);
      for (let k = 0; k < count; k++) {
        nowMs += random.intIn(1, 50);
        const value = STREAM_CONFIGS[s]!.dataType === "int32" ? random.next() | 0 : random.next();
        tolerating(["E_ALL_PENDING"], () => {
          if (STREAM_CONFIGS[s]!.type === "tsd") device.writeTsd(s, 1000 + s, value, nowMs);
          else device.writeEvt(s, 1000 + s, value, nowMs);
        });
      }
    } else if (choice < 55) {
      device.readBulk(s, 1000 + s, random.intIn(0, 2 * device.bulkCapacity));
    } else if (choice < 60) {
      device.peek(s, 1000 + s, random.intIn(0, 2 * device.bulkCapacity));
    } else if (choice < 72) {
      device.ack(s, 1000 + s, random.intIn(0, device.counts(s, 1000 + s).pending));
    } else if (choice < 75) {
      device.revert(s, 1000 + s);
    } else if (choice < 92) {
      nowMs += Math.max(1, board.tier.tickIntervalMs);
      device.processMemory(nowMs);
    } else if (choice < 97) {
      if (rawSectors.length < 2 && random.chance(1, 2)) {
        tolerating(["E_OUT_OF_SECTORS"], () => {
          const id = device.sectorAlloc();
          for (let offset = 0; offset < board.memory.sectorBytes; offset += 4)
            device.sectorWrite(id, offset, random.next());
          rawSectors.push(id);
        });
      } else if (rawSectors.length > 0) {
        device.sectorFree(rawSectors.pop()!);
      }
    } else if (device.hasDiskTier) {
      device.flushAllToDisk();
      flushDrain(
        device,
        () => device.processMemory((nowMs += Math.max(1, board.tier.tickIntervalMs))),
        FLUSH_TICKS_MAX,
      );
      await device.settle();
    }
    expect(device.memory.buffer).toBe(bufferBefore);
  }
}

describe("nothing is written past the layout, nor past ramBytes, and memory never grows", () => {
  // Each board keeps the seed it was first tested with: boards added later take the next ones.
  const seedOrder = ["esp32", "fc1-imx6", "nrf52840", "rp2040", "stm32f405-wiced", "tiny"];
  const added = listBoards().filter((b) => !seedOrder.includes(b.name));
  listBoards().forEach((board: Board) => {
    const known = seedOrder.indexOf(board.name);
    const index = known >= 0 ? known : seedOrder.length + added.indexOf(board);
    const seed = seedFromEnv(0x5eed_0000 + index);
    test(`${board.name} (seed ${seed})`, async () => {
      const device = Device.create({ board, hal: new MemoryHal() });
      const byteLength = device.memory.buffer.byteLength;
      const ramBytes = board.memory.ramBytes;
      const layoutBytes = device.layoutBytes;
      expect(layoutBytes).toBeLessThanOrEqual(ramBytes);
      sentinelFill(new Uint8Array(device.memory.buffer), layoutBytes);

      await heavyWorkload(device, new Prng(seed));

      const stats = device.stats();
      // The workload reached every corner: RAM full, data discarded, and on a disk tier spilled and deleted.
      expect(stats.sectorsUsedPeak).toBe(board.memory.sectorCount);
      expect(stats.recordsDiscarded).toBeGreaterThan(0);
      if (device.hasDiskTier) {
        expect(stats.sectorsSpilled).toBeGreaterThan(0);
        expect(stats.filesDeleted).toBeGreaterThan(0);
      }
      expect(device.memory.buffer.byteLength).toBe(byteLength);
      const memory = new Uint8Array(device.memory.buffer);
      expect({ pastRamBytes: sentinelBroken(memory, ramBytes, byteLength) }).toEqual({ pastRamBytes: -1 });
      expect({ pastLayoutEnd: sentinelBroken(memory, layoutBytes, ramBytes) }).toEqual({ pastLayoutEnd: -1 });
    }, 60_000);
  });
});
