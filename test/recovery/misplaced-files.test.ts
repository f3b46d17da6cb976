// A valid `.imx` file whose name carries the right numbers but is not the core's spelling of them
// (another bucket directory, or a leading zero) is not where the core would ever read it: adopted,
// its records were counted as live and then silently skipped on the first read, and the file
// stayed behind. Boot recovery quarantines it instead, with a reason that names the right path,
// and every record of the other files still comes back.

import { describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { flushDrain } from "../../host/core/flush.js";
import { imxPathFormat, imxPathParse } from "../../host/format/imx.js";
import { MemoryHal } from "../../host/hal/memory.js";

const board = loadBoard("tiny");

/** A storage with one TSD stream (1/2) of 30 records in two files; returns it and the first file. */
function storage(): { hal: MemoryHal; first: string } {
  const hal = new MemoryHal();
  const device = Device.create({ board, hal });
  device.configureStream(1, 2, { type: "tsd", sampleRateMs: 10 });
  for (let k = 0; k < 30; k++) device.writeTsd(1, 2, k, 1000 + k * 10);
  device.flushAllToDisk();
  let nowMs = 0;
  expect(flushDrain(device, () => device.processMemory((nowMs += 10)), 100)).toBeGreaterThanOrEqual(0);
  const first = imxPathFormat(1, 2, 0);
  expect(hal.exists(first)).toBe(true);
  return { hal, first };
}

function seqsRead(device: Device): number[] {
  const seqs: number[] = [];
  for (let guard = 0; guard < 100; guard++) {
    const batch = device.readBulk(1, 2, 8);
    if (batch.length === 0) break;
    seqs.push(...batch.map((r) => r.seq));
    device.ack(1, 2, batch.length);
  }
  return seqs;
}

describe("boot recovery on a file under a name the core does not give it", () => {
  const cases: Array<[string, (path: string) => string]> = [
    [
      "in another bucket",
      (path) => path.replace(/^history\/\d/, `history/${((imxPathParse(path)?.bucket ?? 0) + 1) % 10}`),
    ],
    ["with a leading zero", (path) => path.replace("/1_2_", "/01_2_")],
  ];

  it.each(cases)("quarantines it %s, naming the right path", (_label, misname) => {
    const { hal, first } = storage();
    const moved = misname(first);
    expect(moved).not.toBe(first);
    hal.mkdir(moved.slice(0, moved.lastIndexOf("/")));
    hal.rename(first, moved);
    const device = Device.create({ board, hal });
    expect(device.recovery?.quarantined).toEqual([
      {
        path: moved,
        movedTo: `corrupted/${moved.replace(/\//g, "_")}`,
        reason: `name is not the core's name for its header, ${first}`,
      },
    ]);
    expect(device.recovery?.filesKept).toBe(1);
    const counts = device.counts(1, 2);
    const seqs = seqsRead(device);
    expect(seqs).toHaveLength(counts.total);
    expect(seqs[seqs.length - 1]).toBe(29);
    expect(device.countDiskFiles()).toBe(0);
  });
});
