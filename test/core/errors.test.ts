// Error codes: every E_* code that assembly/abi.ts defines (as generated into abi.generated.ts) is
// negative, unique, inside [ERROR_CODE_MIN, -1] with no gap, and has a name and a message of its
// own in the host; a CoreError from a real refusal names the operation, the message and the code
// name, and keeps the code.

import { describe, expect, test } from "vitest";
import { loadBoard } from "../../host/boards.js";
import * as abi from "../../host/core/abi.generated.js";
import { Device } from "../../host/core/device.js";
import { CoreError, errorCodeMessage, errorCodeName, errorTableCheck } from "../../host/core/errors.js";
import { coreErrorOf, range } from "./helpers.js";

const CODES: Array<[string, number]> = Object.entries(abi as Record<string, unknown>).flatMap(([name, value]) =>
  name.startsWith("E_") && typeof value === "number" ? [[name, value] as [string, number]] : [],
);

describe("the error table", () => {
  test("the codes are -1 … ERROR_CODE_MIN, each exactly once", () => {
    expect(CODES.length).toBeGreaterThan(0);
    expect(CODES.map(([, code]) => code).sort((a, b) => b - a)).toEqual(
      range(1, 1 - abi.ERROR_CODE_MIN).map((n) => -n),
    );
  });

  test("errorTableCheck accepts the table", () => {
    expect(() => errorTableCheck()).not.toThrow();
  });

  for (const [name, code] of CODES) {
    test(`${name} (${code}) has its name and a message of its own`, () => {
      expect(errorCodeName(code)).toBe(name);
      const message = errorCodeMessage(code);
      expect(message).not.toBe(`error ${code}`);
      expect(message.length).toBeGreaterThan(0);
      const sharedWith = CODES.filter(
        ([other, otherCode]) => other !== name && errorCodeMessage(otherCode) === message,
      );
      expect(sharedWith).toEqual([]);
    });
  }

  test("a code the ABI does not define is named as unknown, never as another code", () => {
    const unknown = abi.ERROR_CODE_MIN - 1;
    expect(errorCodeName(unknown)).toBe(`E_UNKNOWN(${unknown})`);
    expect(errorCodeName(1)).toBe("E_UNKNOWN(1)");
  });
});

describe("CoreError", () => {
  test("a real refusal names the operation, the message and the code name", () => {
    const device = Device.create({ board: loadBoard("tiny") });
    const error = coreErrorOf(() => device.sectorFree(3));
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("CoreError");
    expect(error.code).toBe(abi.E_SECTOR_NOT_ALLOCATED);
    expect(error.codeName).toBe("E_SECTOR_NOT_ALLOCATED");
    expect(error.operation).toBe("free sector 3");
    expect(error.message).toBe(
      `free sector 3: ${errorCodeMessage(abi.E_SECTOR_NOT_ALLOCATED)} (E_SECTOR_NOT_ALLOCATED)`,
    );
  });

  test("a refusal in a stream operation names the stream", () => {
    const device = Device.create({ board: loadBoard("tiny") });
    device.configureStream(12, 34, { type: "evt" });
    const error = coreErrorOf(() => device.writeTsd(12, 34, 1, 0));
    expect(error.codeName).toBe("E_RECORD_TYPE_MISMATCH");
    expect(error.message).toContain("12/34");
    expect(error.message).toContain("E_RECORD_TYPE_MISMATCH");
  });

  test("every code makes a CoreError that carries it", () => {
    for (const [name, code] of CODES) {
      const error = new CoreError(code, "some operation");
      expect({ name, codeName: error.codeName, code: error.code }).toEqual({ name, codeName: name, code });
      expect(error.message.startsWith("some operation: ")).toBe(true);
      expect(error.message.endsWith(`(${name})`)).toBe(true);
    }
  });
});
