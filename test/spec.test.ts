// SPEC.md stays true to assembly/abi.ts: every error code is listed with its value, every
// statistics counter and every .imx header field offset appears, so a new constant without its
// documentation fails here.

import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import * as abi from "../host/core/abi.generated.js";

const spec = readFileSync(new URL("../SPEC.md", import.meta.url), "utf8");
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
});
