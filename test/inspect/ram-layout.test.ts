// host/inspect/ram-layout.ts reads device RAM from the outside, so its offsets must be the core's:
// every state-block offset it names is the offset of that field in assembly/state.ts (laid out as
// AssemblyScript lays it out), and on a booted device the pointers it reads are the ones the
// core's exports return.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { RamView, STATE, statePtrOf } from "../../host/inspect/ram-layout.js";

const FIELD_BYTES: Record<string, number> = { u64: 8, f64: 8, u32: 4, i32: 4, usize: 4, u16: 2, u8: 1, bool: 1 };

function stateOffsets(): Map<string, number> {
  const source = readFileSync(new URL("../../assembly/state.ts", import.meta.url), "utf8");
  const body = /export class CoreState \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? "";
  const offsets = new Map<string, number>();
  let offset = 0;
  for (const match of body.matchAll(/^ {2}(\w+)!: (\w+);/gm)) {
    const [, name = "", type = ""] = match;
    const bytes = FIELD_BYTES[type] ?? 0;
    offset = Math.ceil(offset / bytes) * bytes;
    offsets.set(name, offset);
    offset += bytes;
  }
  return offsets;
}

describe("the RAM layout as read from outside", () => {
  it("names every state-block field at the core's offset", () => {
    const offsets = stateOffsets();
    for (const [name, offset] of Object.entries(STATE)) expect([name, offsets.get(name)]).toEqual([name, offset]);
  });

  it("reads the pointers the core's exports return", () => {
    const device = Device.create({ board: loadBoard("fc1-imx6"), hal: new MemoryHal() });
    const ram = new RamView(
      new Uint8Array(device.memory.buffer, 0, device.ramBytes),
      statePtrOf(device.exports.configImagePtr()),
    );
    expect(ram.state(STATE.ramBytes)).toBe(device.ramBytes);
    expect(ram.state(STATE.statsPtr)).toBe(device.exports.statsPointer());
    expect(ram.state(STATE.queryPtr)).toBe(device.exports.queryPointer());
    expect(ram.state(STATE.layoutEnd)).toBe(device.layoutBytes);
    expect(ram.state(STATE.sectorCount)).toBe(2048);
    expect(ram.state(STATE.satFreeCount)).toBe(2048);
    expect(ram.u8(ram.statePtr + STATE.booted)).toBe(1);
  });
});
