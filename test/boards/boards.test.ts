// Shows that every board shipped in boards/ validates, fits its RAM layout with margin, and loads
// the same by bare name or by path; that tier defaults fill in; and that overrides are checked.

import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BoardError,
  boardNamesList,
  boardParse,
  boardsDir,
  DEFAULT_BOARD_NAME,
  listBoards,
  loadBoard,
  ramLayoutEstimate,
  TIER_DEFAULTS,
  withOverrides,
} from "../../host/boards.js";

const shippedNames = readdirSync(boardsDir())
  .filter((entry) => entry.endsWith(".json"))
  .map((entry) => entry.replace(/\.json$/, ""))
  .sort();

describe("shipped boards", () => {
  it("include the boards the simulator promises, the default among them", () => {
    expect(shippedNames).toEqual(
      expect.arrayContaining(["esp32", "fc1-imx6", "nrf52840", "rp2040", "stm32f405-wiced", "tiny"]),
    );
    expect(shippedNames).toContain(DEFAULT_BOARD_NAME);
    expect(boardNamesList()).toEqual(shippedNames);
  });

  it("all validate, sorted by name", () => {
    const boards = listBoards();
    expect(boards.map((board) => board.name)).toEqual(shippedNames);
  });

  it.each(shippedNames)("%s loads the same by name and by path", (name) => {
    expect(loadBoard(join(boardsDir(), `${name}.json`))).toEqual(loadBoard(name));
  });

  it.each(shippedNames)("%s leaves a quarter of its RAM budget beyond the estimated layout", (name) => {
    const board = loadBoard(name);
    const layout = ramLayoutEstimate(board);
    expect(layout.totalBytes).toBeLessThanOrEqual(board.memory.ramBytes * 0.75);
    expect(board.memory.ramBytes).toBeLessThanOrEqual(board.device.ramBytes);
  });

  it.each(shippedNames)("%s says where its numbers come from", (name) => {
    const board = loadBoard(name);
    expect(board.device.source.length).toBeGreaterThan(10);
    expect(board.memory.source.length).toBeGreaterThan(10);
    if (board.disk !== null) expect(board.disk.source.length).toBeGreaterThan(10);
  });

  it("give the default board the MM2 pool of 2048 sectors of 32 bytes and a disk tier", () => {
    const board = loadBoard(DEFAULT_BOARD_NAME);
    expect(board.memory.sectorCount).toBe(2048);
    expect(board.memory.sectorBytes).toBe(32);
    expect(board.device.ramBytes).toBe(512 * 1024 * 1024);
    expect(board.disk).not.toBeNull();
    expect(board.tier.cleanupPolicy).toBe("batched");
  });

  it("make the tiny board small enough for edge cases within a few dozen writes", () => {
    const board = loadBoard("tiny");
    expect(board.memory.sectorCount).toBeLessThanOrEqual(16);
    expect(board.memory.streamsMax).toBeLessThanOrEqual(4);
    expect(board.disk?.filesMax).toBeLessThanOrEqual(16);
    expect(board.disk?.sectorsPerFileMax).toBeLessThanOrEqual(4);
    expect(board.tier.tickIntervalMs).toBeLessThanOrEqual(1);
    expect(board.tier.cleanupPolicy).toBe("immediate");
  });

  it("keep boards without a disk tier explicit with disk: null", () => {
    for (const name of ["stm32f405-wiced", "nrf52840", "rp2040"]) {
      expect(loadBoard(name).disk).toBeNull();
    }
  });
});

describe("tier defaults", () => {
  it("fill in every tier setting a board leaves out", () => {
    const board = boardParse({
      name: "no-tier",
      title: "A board without tier settings",
      device: { ramBytes: 262144, source: "test" },
      memory: { ramBytes: 65536, sectorBytes: 32, sectorCount: 64, streamsMax: 8, bulkRecordsMax: 16, source: "test" },
      disk: null,
    });
    expect(board.tier).toEqual(TIER_DEFAULTS);
  });

  it("fill in only the settings a board leaves out", () => {
    const board = boardParse({
      name: "some-tier",
      title: "A board with one tier setting",
      device: { ramBytes: 262144, source: "test" },
      memory: { ramBytes: 65536, sectorBytes: 32, sectorCount: 64, streamsMax: 8, bulkRecordsMax: 16, source: "test" },
      disk: null,
      tier: { cleanupPolicy: "lazy" },
    });
    expect(board.tier).toEqual({ ...TIER_DEFAULTS, cleanupPolicy: "lazy" });
  });
});

describe("withOverrides", () => {
  it("replaces the cleanup policy in a copy and leaves the board alone", () => {
    const board = loadBoard(DEFAULT_BOARD_NAME);
    const lazy = withOverrides(board, { cleanupPolicy: "lazy" });
    expect(lazy.tier.cleanupPolicy).toBe("lazy");
    expect(board.tier.cleanupPolicy).toBe("batched");
    expect({ ...lazy, tier: { ...lazy.tier, cleanupPolicy: "batched" } }).toEqual(board);
  });

  it("changes nothing without overrides", () => {
    const board = loadBoard("tiny");
    expect(withOverrides(board, {})).toEqual(board);
  });

  it("refuses a policy that does not exist, naming the field and the choices", () => {
    const board = loadBoard("tiny");
    const overrides = { cleanupPolicy: "eager" } as unknown as Parameters<typeof withOverrides>[1];
    expect(() => withOverrides(board, overrides)).toThrow(BoardError);
    expect(() => withOverrides(board, overrides)).toThrow(
      'tiny: tier.cleanupPolicy: must be one of immediate, batched, lazy (got "eager")',
    );
  });
});
