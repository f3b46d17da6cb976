// Every `--json` output of the command line matches its JSON Schema in schemas/: each row of the
// table runs the command as a user would (the built CLI, in a temporary directory) and validates
// what it wrote with ajv in strict mode. Each schema file is itself a valid draft 2020-12 schema,
// versioned in its name and $id, with a description; and every schema in schemas/ has a row, so a
// schema cannot go stale without its output being checked. schemas/README.md says how to add one.

import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, describe, expect, test } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "dist", "host", "cli", "main.js");
const FIXTURE_PACKET = join(ROOT, "test", "fixtures", "imatrix-captured-packet.txt");

interface OutputCase {
  /** The schema: schemas/<schema>.v1.schema.json. */
  schema: string;
  /** The command's arguments; `dir` is a fresh temporary directory. */
  args: (dir: string) => string[];
  /** Where the output is: a file in `dir`, or "stdout". */
  output: "stdout" | ((dir: string) => string);
  /** What the command needs in `dir` first (an export to replay, a storage to verify): runs the CLI with `cli`. */
  setup?: (dir: string, cli: (args: string[]) => Promise<string>) => Promise<void>;
}

/** A short run of the esp32 board on `<dir>/s` that leaves files on the disk tier. */
function storageRun(dir: string, extra: string[] = []): string[] {
  return [
    "run",
    "--board",
    "esp32",
    "--storage",
    join(dir, "s"),
    "--duration",
    "10m",
    "--speed",
    "max",
    "--quiet",
    ...extra,
  ];
}

/** A small multi-sensor export with one point that replay skips (a null value). */
function exportWrite(path: string): void {
  const baseMs = Date.UTC(2025, 11, 8, 13);
  const points = (
    count: number,
    start: number,
  ): Array<{ time: number; value: number | null; formatted_time: string }> =>
    Array.from({ length: count }, (_, i) => ({
      time: baseMs + i * 1500,
      value: start + i / 100,
      formatted_time: new Date(baseMs + i * 1500).toISOString(),
    }));
  const latitude = points(300, 38.9);
  const skipped = latitude[5];
  if (skipped !== undefined) skipped.value = null;
  const body = {
    metadata: { serial: "132991449" },
    sensors: [
      { sensor_id: 2, sensor_name: "Latitude", data: latitude },
      { sensor_id: 3, data: points(200, -119.9) },
    ],
  };
  writeFileSync(path, JSON.stringify(body));
}

const CASES: OutputCase[] = [
  {
    schema: "run",
    args: (dir) => [
      "run",
      "--board",
      "esp32",
      "--storage",
      join(dir, "s"),
      "--duration",
      "1m",
      "--speed",
      "max",
      "--quiet",
      "--json",
      join(dir, "out.json"),
    ],
    output: (dir) => join(dir, "out.json"),
  },
  {
    schema: "test",
    args: (dir) => ["test", "--board", "tiny", "--iterations", "2", "--json", join(dir, "out.json")],
    output: (dir) => join(dir, "out.json"),
  },
  {
    schema: "sim",
    args: (dir) => ["sim", "--seeds", "2", "--steps", "50", "--json", join(dir, "out.json")],
    output: (dir) => join(dir, "out.json"),
  },
  {
    schema: "decode",
    args: (dir) => ["decode", FIXTURE_PACKET, "--json", join(dir, "out.json")],
    output: (dir) => join(dir, "out.json"),
  },
  {
    schema: "battery",
    args: (dir) => [
      "battery",
      "--only",
      "spillover_validation,real_world_usage",
      "--storage",
      join(dir, "s"),
      "--json",
      join(dir, "out.json"),
    ],
    output: (dir) => join(dir, "out.json"),
  },
  { schema: "boards", args: () => ["boards", "--json"], output: "stdout" },
  {
    // The smallest bench there is (a few seconds); its figures have baselines, ratios and targets.
    schema: "bench",
    args: (dir) => ["bench", "--quick", "--only", "append", "--json", join(dir, "out.json")],
    output: (dir) => join(dir, "out.json"),
  },
  {
    schema: "size",
    args: (dir) => ["size", "--board", "tiny", "--outage", "10m at 5m", "--quiet", "--json", join(dir, "out.json")],
    output: (dir) => join(dir, "out.json"),
  },
  {
    schema: "compare",
    args: (dir) => [
      "compare",
      "--board",
      "tiny",
      "--policy",
      "immediate,lazy",
      "--duration",
      "1h",
      "--outage",
      "30m at 10m",
      "--quiet",
      "--json",
      join(dir, "out.json"),
    ],
    output: (dir) => join(dir, "out.json"),
  },
  {
    schema: "replay",
    setup: (dir) => {
      exportWrite(join(dir, "export.json"));
      return Promise.resolve();
    },
    args: (dir) => ["replay", join(dir, "export.json"), "--board", "esp32", "--json", join(dir, "out.json")],
    output: (dir) => join(dir, "out.json"),
  },
  {
    // A damaged file (quarantined by --repair) and a stray one (a note): findings of both kinds.
    schema: "verify",
    setup: async (dir, cli) => {
      await cli(storageRun(dir));
      const bucket = readdirSync(join(dir, "s", "history"))
        .map((name) => join(dir, "s", "history", name))
        .find((path) => readdirSync(path).some((name) => name.endsWith(".imx")));
      if (bucket === undefined) throw new Error("the run left no .imx file");
      const file = readdirSync(bucket).find((name) => name.endsWith(".imx")) ?? "";
      truncateSync(join(bucket, file), 10);
      writeFileSync(join(bucket, "stray.txt"), "not a file of the storage's\n");
    },
    args: (dir) => ["verify", "--storage", join(dir, "s"), "--repair", "--json", join(dir, "out.json")],
    output: (dir) => join(dir, "out.json"),
  },
  {
    schema: "monitor",
    setup: async (dir, cli) => {
      await cli(storageRun(dir));
    },
    args: (dir) => ["monitor", "--storage", join(dir, "s"), "--once", "--json"],
    output: "stdout",
  },
  {
    schema: "inspect",
    setup: async (dir, cli) => {
      await cli(storageRun(dir, ["--ram-dump", join(dir, "ram.bin")]));
    },
    args: (dir) => ["inspect", join(dir, "ram.bin"), "--board", "esp32", "--json", join(dir, "out.json")],
    output: (dir) => join(dir, "out.json"),
  },
];

const SCHEMA_DIR = join(ROOT, "schemas");
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function schemaLoad(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(SCHEMA_DIR, `${name}.v1.schema.json`), "utf8")) as Record<string, unknown>;
}

describe("schemas/", () => {
  test("every schema file has a row in the table, and every row a schema file", () => {
    const files = readdirSync(SCHEMA_DIR).filter((name) => name.endsWith(".schema.json"));
    expect(files.sort()).toEqual(CASES.map((c) => `${c.schema}.v1.schema.json`).sort());
  });

  test.each(CASES.map((c) => c.schema))("%s: a versioned, described draft 2020-12 schema", (name) => {
    const schema = schemaLoad(name);
    expect(schema["$schema"]).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema["$id"]).toMatch(new RegExp(`/${name}\\.v1\\.schema\\.json$`));
    expect(String(schema["description"])).not.toMatch(/TODO/);
    new Ajv2020({ strict: true, allErrors: true }).compile(schema);
  });

  test.each(CASES)("$schema --json: the real output matches its schema", async ({ schema, args, output, setup }) => {
    const dir = mkdtempSync(join(tmpdir(), `imx-schema-${schema}-`));
    dirs.push(dir);
    const cli = async (cliArgs: string[]): Promise<string> => {
      const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...cliArgs], {
        cwd: dir,
        maxBuffer: 64 * 1024 * 1024,
      });
      return stdout;
    };
    await setup?.(dir, cli);
    const stdout = await cli(args(dir));
    const text = output === "stdout" ? stdout : readFileSync(output(dir), "utf8");
    const validate = new Ajv2020({ strict: true, allErrors: true }).compile(schemaLoad(schema));
    const valid = validate(JSON.parse(text));
    expect(validate.errors ?? [], `${schema}: ${JSON.stringify(validate.errors?.slice(0, 5))}`).toEqual([]);
    expect(valid).toBe(true);
  });
});
