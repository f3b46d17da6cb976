// SPEC.md stays true to assembly/abi.ts: every error code is listed with its value, every
// statistics counter and every .imx header field offset appears, and every field of the core state
// block (assembly/state.ts) has its row at its offset, so a new constant or field without its
// documentation fails here.

import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import * as abi from "../host/core/abi.generated.js";

const spec = readFileSync(new URL("../SPEC.md", import.meta.url), "utf8");
const stateSource = readFileSync(new URL("../assembly/state.ts", import.meta.url), "utf8");
const FIELD_BYTES: Record<string, number> = { u64: 8, f64: 8, u32: 4, i32: 4, usize: 4, u16: 2, u8: 1, bool: 1 };

/** The fields of the CoreState class with their offsets, laid out as AssemblyScript does (natural alignment). */
function stateFields(): Array<[string, number, string]> {
  const body = /export class CoreState \{([\s\S]*?)\n\}/.exec(stateSource)?.[1] ?? "";
  const fields: Array<[string, number, string]> = [];
  let offset = 0;
  for (const match of body.matchAll(/^ {2}(\w+)!: (\w+);/gm)) {
    const [, name = "", type = ""] = match;
    const bytes = FIELD_BYTES[type] ?? 0;
    offset = Math.ceil(offset / bytes) * bytes;
    fields.push([name, offset, type]);
    offset += bytes;
  }
  return fields;
}

const entries: Array<[string, number]> = Object.entries(abi as Record<string, unknown>).filter(
  (entry): entry is [string, number] => typeof entry[1] === "number",
);

describe("SPEC.md", () => {
  test.each(entries.filter(([name]) => name.startsWith("E_")))("lists error %s with its value", (name, value) => {
    const row = spec.split("\n").find((line) => line.startsWith(`| \`${name}\` |`));
    expect(row, `${name} has no row in SPEC.md section 8`).toBeDefined();
    expect(row).toContain(`| −${-value} |`);
  });

  test.each(entries.filter(([name]) => name.startsWith("STAT_") && name !== "STAT_COUNT"))("documents %s", (name) => {
    expect(spec).toContain(`\`${name}\``);
  });

  test.each(entries.filter(([name]) => name.startsWith("IMX_") && name.endsWith("_OFFSET")))(
    ".imx header row at the offset of %s",
    (_name, offset) => {
      expect(spec).toMatch(new RegExp(`^\\| ${offset} \\| \\d+ \\| (u8|u16|u32|u64) \\|`, "m"));
    },
  );

  test("has every core state block field at its offset", () => {
    const fields = stateFields();
    expect(fields.length).toBeGreaterThan(40);
    for (const [name, offset, type] of fields) {
      const kind = type === "usize" ? "u32 (pointer)" : type === "bool" ? "u8 (bool)" : type;
      expect(spec, `state block field ${name}`).toContain(`| ${offset} | ${kind} | \`${name}\` |`);
    }
    const [, lastOffset = 0, lastType = ""] = fields[fields.length - 1] ?? [];
    expect(Math.ceil((lastOffset + (FIELD_BYTES[lastType] ?? 0)) / 8) * 8).toBe(abi.CORE_STATE_BYTES);
  });
});
