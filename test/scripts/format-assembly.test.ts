// scripts/format-assembly.mjs formats AssemblyScript with prettier although prettier's parser rejects
// decorators on functions: shown here by formatting a sample with `@inline` and `@external` in both
// layouts (own line, same line) and `@unmanaged` on a class, and checking that every decorator comes
// back where it was, that a second pass changes nothing, and that --check tells the two apart.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { assemblyFormat, decoratorsMask, decoratorsUnmask } from "../../scripts/format-assembly.mjs";

const SCRIPT = fileURLToPath(new URL("../../scripts/format-assembly.mjs", import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), "imx-format-assembly-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** Inside the repository, so that prettier resolves the repository's config (printWidth 120). */
const FILEPATH = fileURLToPath(new URL("../../assembly/sample.ts", import.meta.url));

const SAMPLE = `import { halLog } from "./hal"
// @ts-ignore: decorator
@inline
export function sectorNext(id: u32): u32 { return <u32>load<u16>(satPtr + (<usize>id << 1)) }
// @ts-ignore: decorator
@inline export function sectorCount(): u32 { return   count }
// @ts-ignore: decorator
@external("hal", "log")
export declare function halLogRaw(level: i32, subsystem: i32, event: i32, a: i32, b: i32): void;
// @ts-ignore: decorator
@lazy const table = new StaticArray<u32>(256)
@unmanaged
class StreamEntry {
  source: u32; sensor: u32
  @inline get key(): u32 { return (this.source << 16) | this.sensor }
}
`;

const FORMATTED = `import { halLog } from "./hal";
// @ts-ignore: decorator
@inline
export function sectorNext(id: u32): u32 {
  return <u32>load<u16>(satPtr + ((<usize>id) << 1));
}
// @ts-ignore: decorator
@inline export function sectorCount(): u32 {
  return count;
}
// @ts-ignore: decorator
@external("hal", "log")
export declare function halLogRaw(level: i32, subsystem: i32, event: i32, a: i32, b: i32): void;
// @ts-ignore: decorator
@lazy const table = new StaticArray<u32>(256);
@unmanaged
class StreamEntry {
  source: u32;
  sensor: u32;
  @inline get key(): u32 {
    return (this.source << 16) | this.sensor;
  }
}
`;

describe("format-assembly", () => {
  it("masks only the decorators TypeScript rejects, reversibly", () => {
    const { masked, decorators } = decoratorsMask(SAMPLE);
    expect(decorators).toEqual(["@inline", "@inline", '@external("hal", "log")', "@lazy"]);
    expect(masked).toContain("//@0\nexport function sectorNext");
    expect(masked).toContain("/*@1_*/ export function sectorCount");
    expect(masked).toContain("@unmanaged\nclass StreamEntry");
    expect(decoratorsUnmask(masked, decorators)).toBe(SAMPLE);
  });

  it("formats with prettier and keeps every decorator in place; a second pass changes nothing", async () => {
    const once = await assemblyFormat(SAMPLE, FILEPATH);
    expect(once).toBe(FORMATTED);
    expect(await assemblyFormat(once, FILEPATH)).toBe(once);
  });

  it("fails rather than lose a decorator", () => {
    const { masked, decorators } = decoratorsMask(SAMPLE);
    expect(() => decoratorsUnmask(masked.replace("//@0\n", ""), decorators)).toThrow(/lost/);
  });

  it("--check exits 1 on an unformatted file and 0 once it is formatted", () => {
    const file = path.join(dir, "sample.ts");
    writeFileSync(file, SAMPLE);
    const run = (...args: string[]) => spawnSync(process.execPath, [SCRIPT, ...args, file], { encoding: "utf8" });
    expect(run("--check").status).toBe(1);
    expect(readFileSync(file, "utf8")).toBe(SAMPLE);
    expect(run().status).toBe(0);
    expect(run("--check").status).toBe(0);
  });
});
