// Each enumeration has one table, in assembly/abi.ts, generated to the host: the host's names and
// codes are those constants, every host user reads them (boards' schema, the config image, the
// facade), and the core accepts exactly the policy codes the table has — no code assumes which
// policy comes last. The host's CoreExports type is generated from assembly/index.ts too, and names
// exactly the functions the compiled module exports.

import { describe, expect, test } from "vitest";
import { CLEANUP_POLICIES, loadBoard } from "../../host/boards.js";
import * as abi from "../../host/core/abi.generated.js";
import { CORE_EXPORT_NAMES } from "../../host/core/core-exports.generated.js";
import { Device } from "../../host/core/device.js";
import { coreModule } from "../../host/core/wasm.js";
import { decodeConfigImage, encodeConfigImage } from "../../host/config-image.js";

describe("the enumeration tables", () => {
  test("name the ABI's constants, each code once, in code order", () => {
    const tables: Array<Readonly<Record<string, number>>> = [
      abi.CLEANUP_POLICY_CODES,
      abi.RECORD_TYPE_CODES,
      abi.DATA_TYPE_CODES,
      abi.TIER_STATE_CODES,
      abi.CORE_LOG_LEVEL_CODES,
      abi.LOG_SUBSYSTEM_CODES,
    ];
    for (const table of tables) {
      const codes = Object.values(table);
      expect(new Set(codes).size).toBe(codes.length);
      expect(codes).toEqual([...codes].sort((a, b) => a - b));
    }
    expect(abi.CLEANUP_POLICY_CODES).toEqual({
      immediate: abi.CLEANUP_IMMEDIATE,
      batched: abi.CLEANUP_BATCHED,
      lazy: abi.CLEANUP_LAZY,
    });
    expect(abi.TIER_STATE_NAMES.length).toBe(abi.STATE_COUNT);
    expect(abi.CLEANUP_POLICY_NAMES.length).toBe(abi.CLEANUP_POLICY_COUNT);
    expect(abi.DATA_TYPE_NAMES.length).toBe(abi.DATA_TYPE_COUNT);
    expect(abi.RECORD_TYPE_BY_CODE[abi.RECORD_TYPE_EVT]).toBe("evt");
  });

  test("are what the board schema and the config image use", () => {
    expect(CLEANUP_POLICIES).toEqual(abi.CLEANUP_POLICY_NAMES);
    const board = loadBoard("tiny");
    for (const policy of CLEANUP_POLICIES) {
      const image = encodeConfigImage({ ...board, tier: { ...board.tier, cleanupPolicy: policy } });
      expect(image[abi.CFG_CLEANUP_POLICY]).toBe(abi.CLEANUP_POLICY_CODES[policy]);
      expect(decodeConfigImage(image).tier.cleanupPolicy).toBe(policy);
    }
  });

  test("bound the policy codes the core accepts", () => {
    const device = Device.create({ board: loadBoard("tiny") });
    for (let code = 0; code < abi.CLEANUP_POLICY_COUNT; code++)
      expect(device.exports.cleanupPolicySet(code)).toBe(abi.OK);
    expect(device.exports.cleanupPolicySet(abi.CLEANUP_POLICY_COUNT)).toBe(abi.E_INVALID_ARGUMENT);
    expect(device.exports.cleanupPolicySet(-1)).toBe(abi.E_INVALID_ARGUMENT);
  });

  test("CoreExports names every function the module exports, and nothing else", () => {
    for (const build of ["release", "debug"] as const) {
      const functions = WebAssembly.Module.exports(coreModule(build))
        .filter((entry) => entry.kind === "function")
        .map((entry) => entry.name);
      expect([...functions].sort()).toEqual([...CORE_EXPORT_NAMES].sort());
    }
  });
});
