// The core keeps no state outside device RAM: the compiled module declares no mutable global of
// its own (every value it keeps between calls is a field of the state block in RAM, SPEC.md 3.8),
// so the first ramBytes bytes of the memory are the whole device. Shown on the text form of both
// builds, and by finding the block's boot flag set in RAM after boot.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { loadBoard } from "../../host/boards.js";
import * as abi from "../../host/core/abi.generated.js";
import { Device } from "../../host/core/device.js";
import { packageRoot } from "../../host/core/wasm.js";

function mutableGlobals(build: "release" | "debug"): string[] {
  const wat = readFileSync(join(packageRoot(), "build", `${build}.wat`), "utf8");
  return [...wat.matchAll(/^\s*\(global (\$\S+) \(mut /gm)].map((match) => match[1] ?? "");
}

describe("the core's state", () => {
  test.each(["release", "debug"] as const)("the %s module has no mutable global of its own", (build) => {
    expect(mutableGlobals(build).filter((name) => name.startsWith("$assembly/"))).toEqual([]);
  });

  test("the state block and the CRC table come before the config image, after the static data", () => {
    const device = Device.create({ board: loadBoard("tiny") });
    const configPtr = device.exports.configImagePtr();
    const statePtr = configPtr - abi.CRC_TABLE_BYTES - abi.CORE_STATE_BYTES;
    expect(statePtr % 8).toBe(0);
    // The block's boot flag (offset 216, SPEC.md 3.8) is set in RAM, not in the module.
    expect(new Uint8Array(device.memory.buffer)[statePtr + 216]).toBe(1);
  });
});
