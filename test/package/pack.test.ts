// The published package, as a user gets it: `npm pack` the built tree, install the tarball into a
// fresh project in a temporary directory (its dependencies from the registry, through npm's cache
// when it has them), then run an ESM script that imports Device, loadBoard and Outbox by the
// package's name — the case: an esp32 device on a temporary storage holding 200 EVT
// records of one stream, drained through a sender that fails every third call until everything
// is delivered once, in order — and type-check a TypeScript file against the published
// declarations with strict, module/moduleResolution nodenext and skipLibCheck false (Device,
// UploadRecord, the events, the logger, close() and DeviceWorker); the script also reopens the
// storage through a DeviceWorker of the installed package (its thread script is found). Internal
// modules are not importable (the entry is the package's only export besides package.json).

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const INSTALL_TIMEOUT_MS = 240_000;

/** The version of a development dependency installed here, so the project gets the same one (from the cache). */
function installedVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as {
    version: string;
  };
  return manifest.version;
}

const SMOKE = `
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreError, Device, DeviceWorker, loadBoard, Outbox } from "imx-memsim";

const storageDir = mkdtempSync(join(tmpdir(), "imx-pack-storage-"));
const device = Device.create({ board: loadBoard("esp32"), storageDir, nowMs: 0 });
device.configureStream(0, 42, { type: "evt" });
let nowMs = 0;
for (let i = 0; i < 200; i++) {
  device.writeEvt(0, 42, i, 1_700_000_000_000 + i);
  if (i % 10 === 9) device.processMemory((nowMs += 100));
}
const received = [];
let calls = 0;
const send = async (batch) => {
  calls++;
  if (calls % 3 === 0) throw new Error("call " + calls + " fails");
  for (const record of batch.records) received.push(record.value);
};
const outbox = new Outbox(device, { packetRecords: 16 });
let drains = 0;
for (;;) {
  drains++;
  try {
    await outbox.drain(send);
    break;
  } catch {
    if (drains > 100) throw new Error("no drain resolved");
  }
}
const again = await outbox.drain(send);
const left = device.counts(0, 42).total;
const closed = await device.close();

// The same storage through a DeviceWorker: nothing left, an error crosses as its class, events and
// log lines reach this thread, close() releases the lock.
const lines = [];
const logger = { error: (l) => lines.push(l), warn: (l) => lines.push(l), info: (l) => lines.push(l), debug: () => {} };
const worker = await DeviceWorker.create({ board: loadBoard("esp32"), storageDir, logger, log: "info" });
const discards = [];
worker.on("discard", (event) => discards.push(event));
await worker.configureStream(0, 42, { type: "evt" });
const workerLeft = (await worker.counts(0, 42)).total;
let thrown = null;
try {
  await worker.writeEvt(9, 9, 1, 1);
} catch (error) {
  thrown = { isCoreError: error instanceof CoreError, codeName: error.codeName };
}
await worker.writeEvtMany(0, 42, [1, 2, 3], [1, 2, 3]);
await worker.resetSensor(0, 42);
const workerClosed = await worker.close();
const reopened = Device.create({ board: loadBoard("esp32"), storageDir });
await reopened.close();
rmSync(storageDir, { recursive: true, force: true });
console.log(JSON.stringify({ received, drains, again, left, closed, workerLeft, thrown, discards, workerClosed, logged: lines.length }));
`;

const TYPED = `
import {
  Device,
  type DeviceCloseResult,
  type DeviceEvents,
  DeviceWorker,
  type DeviceWorkerOptions,
  type DiscardReason,
  loadBoard,
  type Logger,
  Outbox,
  type OutboxSender,
  type TierState,
  type UploadRecord,
} from "imx-memsim";

const device: Device = Device.create({ board: loadBoard("tiny") });
device.configureStream(0, 1, { type: "tsd", dataType: "float32", sampleRateMs: 1000 });
device.writeTsd(0, 1, 21.5, Date.now());
const records: UploadRecord[] = device.readBulk(0, 1, 8);
const first: number | undefined = records[0]?.value;
const tier: "ram" | "disk" | undefined = records[0]?.tier;
device.revert(0, 1);
const send: OutboxSender = async (batch) => {
  await Promise.resolve(batch.records.length);
};
const done: Promise<{ batches: number; records: number }> = new Outbox(device).drain(send);

// Events, the injectable logger, close() and the DeviceWorker.
const logger: Logger = console;
device.on("discard", (event: DeviceEvents["discard"]) => {
  const reason: DiscardReason = event.reason;
  logger.warn(\`\${event.records} records discarded (\${reason})\`);
});
const closed: Promise<DeviceCloseResult> = device.close({ deadlineMs: 1000 });
const options: DeviceWorkerOptions = { board: loadBoard("tiny"), logger, log: "warn" };
async function onThread(): Promise<number> {
  const worker: DeviceWorker = await DeviceWorker.create(options);
  await worker.configureStream(0, 1, { type: "evt" });
  const state: TierState = await worker.processMemory(0);
  const batch: UploadRecord[] = await worker.readBulk(0, 1, 8);
  worker.on("spill", ({ sectors }) => logger.info(String(sectors)));
  const result: DeviceCloseResult = await worker.close();
  return batch.length + result.ticks + state.length;
}
export { closed, done, first, onThread, tier };
`;

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "nodenext",
    moduleResolution: "nodenext",
    strict: true,
    skipLibCheck: false,
    noEmit: true,
    types: ["node"],
  },
  files: ["check.ts"],
};

let work: string;
let project: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "imx-pack-"));
  project = join(work, "project");
  // The tree is built (npm test builds first): pack it as it is.
  const { stdout } = await run(NPM, ["pack", "--ignore-scripts", "--json", "--pack-destination", work], { cwd: ROOT });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string }>;
  const tarball = join(work, packed?.filename ?? "missing.tgz");
  await run("mkdir", ["-p", project]);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "pack-check", private: true, type: "module" }));
  await run(
    NPM,
    [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--no-package-lock",
      tarball,
      `typescript@${installedVersion("typescript")}`,
      `@types/node@${installedVersion("@types/node")}`,
    ],
    { cwd: project, timeout: INSTALL_TIMEOUT_MS },
  );
}, INSTALL_TIMEOUT_MS + 60_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe("the packed tarball, installed into a fresh project", () => {
  test("an ESM script imports Device, loadBoard and Outbox: 200 records arrive once, in order; then a DeviceWorker", async () => {
    writeFileSync(join(project, "smoke.mjs"), SMOKE);
    const { stdout } = await run(process.execPath, ["smoke.mjs"], { cwd: project });
    const result = JSON.parse(stdout) as Record<string, unknown>;
    expect(result["received"]).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(result["drains"]).toBeGreaterThan(1);
    expect(result["again"]).toEqual({ batches: 0, records: 0 });
    expect(result["left"]).toBe(0);
    expect(result["closed"]).toMatchObject({ flushed: true, ramSectorsLeft: 0 });
    // The DeviceWorker of the installed package, on the same storage.
    expect(result["workerLeft"]).toBe(0);
    expect(result["thrown"]).toEqual({ isCoreError: true, codeName: "E_STREAM_UNKNOWN" });
    expect(result["discards"]).toEqual([{ source: 0, sensor: 42, reason: "reset", records: 3 }]);
    expect(result["workerClosed"]).toMatchObject({ flushed: true });
    expect(result["logged"]).toBeGreaterThan(0);
  });

  test("a TypeScript file importing Device, DeviceWorker, UploadRecord, events and Logger type-checks (strict, nodenext, skipLibCheck false)", async () => {
    writeFileSync(join(project, "check.ts"), TYPED);
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify(TSCONFIG));
    const tsc = join(project, "node_modules", "typescript", "bin", "tsc");
    // tsc prints its diagnostics on stdout and exits non-zero: show them in the failure.
    const checked = await run(process.execPath, [tsc, "-p", "."], { cwd: project }).then(
      () => "",
      (error: unknown) => (error as { stdout?: string }).stdout ?? "tsc failed without output",
    );
    expect(checked).toBe("");
  });

  test("only the entry is exported: internal modules cannot be imported; the CLI is the bin", async () => {
    const probe = `import("imx-memsim/dist/host/core/device.js").then(() => console.log("imported"), (e) => console.log(e.code));`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", probe], { cwd: project });
    expect(stdout.trim()).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED");
    const boards = await run(join(project, "node_modules", ".bin", "imx-memsim"), ["boards"], { cwd: project });
    expect(boards.stdout).toContain("esp32");
  });
});
