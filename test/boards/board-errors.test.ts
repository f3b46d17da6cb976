// Shows that an unusable board file is refused with a message that names the file, the field path
// and the rule: bad boards are written into a temporary directory and loaded by path.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BoardError, boardParse, boardsDir, loadBoard } from "../../host/boards.js";

const dir = mkdtempSync(join(tmpdir(), "imx-memsim-boards-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Json = Record<string, unknown>;

// A valid board, as raw JSON, to break one field at a time.
function tinyRaw(): Json {
  return JSON.parse(readFileSync(join(boardsDir(), "tiny.json"), "utf8")) as Json;
}

function boardWrite(name: string, edit: (raw: Json & { memory: Json; tier: Json; disk: Json | null }) => void): string {
  const raw = tinyRaw() as Json & { memory: Json; tier: Json; disk: Json | null };
  raw["name"] = name;
  edit(raw);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(raw, null, 2));
  return file;
}

function loadError(file: string): BoardError {
  try {
    loadBoard(file);
  } catch (error) {
    if (error instanceof BoardError) return error;
    throw error;
  }
  throw new Error(`${file} loaded without an error`);
}

describe("board field rules", () => {
  it("name the file, the field and the rule for a sector size that is not a multiple of 4", () => {
    const file = boardWrite("odd-sector", (raw) => {
      raw.memory["sectorBytes"] = 30;
    });
    expect(loadError(file).message).toBe(`${file}: memory.sectorBytes: must be a multiple of 4 (got 30)`);
  });

  it("refuse a value of the wrong type", () => {
    const file = boardWrite("wrong-type", (raw) => {
      raw.memory["sectorCount"] = "16";
    });
    expect(loadError(file).message).toBe(`${file}: memory.sectorCount: must be a number (got "16")`);
  });

  it("refuse a missing field", () => {
    const file = boardWrite("missing-field", (raw) => {
      delete raw.memory["sectorBytes"];
    });
    expect(loadError(file).message).toBe(`${file}: memory.sectorBytes: is required`);
  });

  it("refuse a missing source line", () => {
    const file = boardWrite("missing-source", (raw) => {
      delete raw.memory["source"];
    });
    expect(loadError(file).message).toBe(`${file}: memory.source: is required`);
  });

  it("refuse unknown fields (the schema is strict)", () => {
    const file = boardWrite("unknown-key", (raw) => {
      raw.memory["colour"] = "blue";
      raw["vendor"] = "acme";
    });
    const error = loadError(file);
    expect(error.issues).toEqual(
      expect.arrayContaining([
        { path: "memory.colour", rule: "is not a known field" },
        { path: "vendor", rule: "is not a known field" },
      ]),
    );
  });

  it("refuse a spill target at or above the spill threshold", () => {
    const file = boardWrite("target-high", (raw) => {
      raw.tier["spillThresholdPercent"] = 70;
      raw.tier["spillTargetPercent"] = 70;
    });
    expect(loadError(file).message).toBe(
      `${file}: tier.spillTargetPercent: must be below tier.spillThresholdPercent (70) (got 70)`,
    );
  });

  it("refuse percents outside 1..100", () => {
    const file = boardWrite("bad-percent", (raw) => {
      raw.tier["spillThresholdPercent"] = 101;
    });
    expect(loadError(file).message).toBe(`${file}: tier.spillThresholdPercent: must be at most 100 (got 101)`);
  });

  it("refuse sector sizes outside 16..4096 and stream counts past the 16-bit id space", () => {
    const file = boardWrite("too-big", (raw) => {
      raw.memory["sectorBytes"] = 8192;
      raw.memory["streamsMax"] = 65535;
    });
    expect(loadError(file).issues).toEqual([
      { path: "memory.sectorBytes", rule: "must be at most 4096 (got 8192)" },
      { path: "memory.streamsMax", rule: "must be at most 65534 (got 65535)" },
    ]);
  });

  it("refuse an unknown cleanup policy, listing the choices", () => {
    const file = boardWrite("bad-policy", (raw) => {
      raw.tier["cleanupPolicy"] = "eager";
    });
    expect(loadError(file).message).toBe(
      `${file}: tier.cleanupPolicy: must be one of immediate, batched, lazy (got "eager")`,
    );
  });

  it("require disk to be stated, null for a board without a disk tier", () => {
    const missing = boardWrite("no-disk-key", (raw) => {
      delete (raw as Json)["disk"];
    });
    expect(loadError(missing).message).toBe(`${missing}: disk: is required (null for a board without a disk tier)`);
    const word = boardWrite("disk-word", (raw) => {
      (raw as Json)["disk"] = "none";
    });
    expect(loadError(word).message).toBe(`${word}: disk: must be an object or null (got "none")`);
  });

  it("require every disk field when there is a disk tier", () => {
    const file = boardWrite("disk-partial", (raw) => {
      delete raw.disk?.["filesMax"];
    });
    expect(loadError(file).message).toBe(`${file}: disk.filesMax: is required`);
  });

  it("refuse a quota that cannot hold one full .imx file", () => {
    const file = boardWrite("small-quota", (raw) => {
      if (raw.disk !== null) raw.disk["quotaBytes"] = 100;
    });
    expect(loadError(file).message).toBe(
      `${file}: disk.quotaBytes: must hold one full .imx file: 64-byte header + sectorsPerFileMax × sectorBytes = 192 bytes (got 100)`,
    );
  });

  it("refuse a RAM budget the layout does not fit in", () => {
    const file = boardWrite("ram-small", (raw) => {
      raw.memory["ramBytes"] = 4096;
    });
    const error = loadError(file);
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.path).toBe("memory.ramBytes");
    expect(error.message).toMatch(
      /memory\.ramBytes: must hold the RAM layout of about \d+ bytes \(.*SAT 256.*\) \(got 4096\)$/,
    );
  });

  it("refuse a RAM budget larger than the device's RAM", () => {
    const file = boardWrite("ram-over", (raw) => {
      (raw["device"] as Json)["ramBytes"] = 16384;
    });
    expect(loadError(file).message).toBe(
      `${file}: memory.ramBytes: must not exceed device.ramBytes (16384) (got 24576)`,
    );
  });

  it("refuse names the config image cannot hold or that are not lowercase words", () => {
    expect(() => boardParse({ ...tinyRaw(), name: "a-board-name-far-too-long-for-it" }, "long")).toThrow(
      'long: name: must be at most 24 characters (the config image\'s board name field) (got "a-board-name-far-too-long-for-it")',
    );
    expect(() => boardParse({ ...tinyRaw(), name: "Tiny_Board" }, "caps")).toThrow(
      'caps: name: must be lowercase letters and digits in words joined by single hyphens (got "Tiny_Board")',
    );
  });

  it("refuse a name that does not match the file name", () => {
    const file = join(dir, "renamed.json");
    writeFileSync(file, JSON.stringify(tinyRaw()));
    expect(loadError(file).message).toBe(`${file}: name: must match the file name "renamed" (got "tiny")`);
  });

  it("report every problem in a file, one line each", () => {
    const file = boardWrite("many-problems", (raw) => {
      raw.memory["sectorBytes"] = 30;
      raw.memory["sectorCount"] = 0;
      raw["title"] = "";
    });
    const lines = loadError(file).message.split("\n");
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line.startsWith(`${file}: `)).toBe(true);
  });
});

describe("board files that cannot be read", () => {
  it("name the file for invalid JSON and give the line and column", () => {
    const file = join(dir, "bad-json.json");
    writeFileSync(file, '{\n  "name": "bad-json",\n  "title": x\n}\n');
    expect(loadError(file).message).toBe(`${file}: invalid JSON at line 3, column 12 (position 35): unexpected "x"`);
  });

  it.each([
    [
      "a trailing comma",
      '{"name": "x",}',
      'invalid JSON at line 1, column 14 (position 13): expected "\\"", found "}"',
    ],
    ["an unterminated string", '{"name": "x', "invalid JSON at line 1, column 12 (position 11): unterminated string"],
    ["text after the value", '{"name": "x"} extra', 'invalid JSON at line 1, column 15 (position 14): unexpected "e"'],
    ["an empty file", "", "invalid JSON at line 1, column 1 (position 0): unexpected end of input"],
  ])("locate %s", (_case, text, rule) => {
    const file = join(dir, "located.json");
    writeFileSync(file, text);
    expect(loadError(file).message).toBe(`${file}: ${rule}`);
  });

  it("name the file that cannot be read", () => {
    const file = join(dir, "absent.json");
    expect(loadError(file).message).toMatch(new RegExp(`^${file}: cannot read the board file: ENOENT`));
  });

  it("list the known boards for an unknown board name", () => {
    const message = loadError("no-such-board").message;
    expect(message).toMatch(
      /^boards\/no-such-board\.json: unknown board "no-such-board" \(known boards: .*fc1-imx6.*\)$/,
    );
    expect(message).toContain("tiny");
  });
});
