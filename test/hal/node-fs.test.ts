// NodeFsHal passes the shared conformance suite on a fresh temp directory, maps the errno values
// Linux really produces, and agrees with MemoryHal call for call on random operation sequences.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Hal, HalError, type HalOp } from "../../host/hal/hal.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { NodeFsHal } from "../../host/hal/node-fs.js";
import { bytes, codeOf, halConformanceSuite, halErrorOf, text } from "./hal-conformance.js";
import { Tmpfs, tmpfsAvailable } from "../support/tmpfs.js";

function tempDirMake(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "imx-hal-"));
}

halConformanceSuite("NodeFsHal", () => {
  const rootDir = tempDirMake();
  return { hal: new NodeFsHal(rootDir), cleanup: () => fs.rmSync(rootDir, { recursive: true, force: true }) };
});

describe("NodeFsHal on a real directory", () => {
  let rootDir: string;
  let hal: NodeFsHal;

  beforeEach(() => {
    rootDir = tempDirMake();
    hal = new NodeFsHal(rootDir);
  });
  afterEach(() => fs.rmSync(rootDir, { recursive: true, force: true }));

  it("writes where the real filesystem can see it", () => {
    hal.mkdir("spill");
    hal.writeFile("spill/0001.imx", bytes("sector"));
    expect(fs.readFileSync(path.join(rootDir, "spill", "0001.imx"), "utf8")).toBe("sector");
    fs.writeFileSync(path.join(rootDir, "spill", "0002.imx"), "from outside");
    expect(hal.list("spill")).toEqual(["0001.imx", "0002.imx"]);
  });

  it("resolves a relative root and creates a missing root with mkdir('.')", () => {
    const relative = path.relative(process.cwd(), path.join(rootDir, "not-yet"));
    const nested = new NodeFsHal(relative);
    expect(path.isAbsolute(nested.rootDir)).toBe(true);
    expect(codeOf(() => nested.list("."))).toBe("ENOENT");
    nested.mkdir(".");
    expect(nested.list(".")).toEqual([]);
  });

  it("maps the ENOTDIR Linux gives for a write whose parent is a file, as MemoryHal does", () => {
    hal.writeFile("plain", bytes("x"));
    const error = halErrorOf(() => hal.writeFile("plain/child.imx", bytes("y")));
    expect(error.code).toBe("ENOTDIR");
    expect(error.op).toBe("writeFile");
    expect(error.path).toBe("plain/child.imx");
    expect((error.cause as NodeJS.ErrnoException).code).toBe("ENOTDIR");

    const memory = new MemoryHal();
    memory.writeFile("plain", bytes("x"));
    expect(codeOf(() => memory.writeFile("plain/child.imx", bytes("y")))).toBe("ENOTDIR");
  });

  it("maps the EISDIR Linux gives for unlinking a directory to EINVAL", () => {
    hal.mkdir("d");
    const error = halErrorOf(() => hal.remove("d"));
    expect(error.code).toBe("EINVAL");
    if (process.platform === "linux") expect((error.cause as NodeJS.ErrnoException).code).toBe("EISDIR");
  });

  it.skipIf(process.platform !== "linux" || !fs.existsSync("/dev/full"))(
    "maps a real ENOSPC (writing through a link to /dev/full)",
    () => {
      fs.symlinkSync("/dev/full", path.join(rootDir, "full.imx"));
      const error = halErrorOf(() => hal.writeFile("full.imx", new Uint8Array(64)));
      expect(error.code).toBe("ENOSPC");
      expect((error.cause as NodeJS.ErrnoException).code).toBe("ENOSPC");
      expect(hal.stats().bytesWritten).toBe(0);
    },
  );

  it.skipIf(process.platform !== "linux" || !fs.existsSync("/proc/version"))(
    "maps a real EIO or EACCES (writing through a link to /proc/version)",
    () => {
      fs.symlinkSync("/proc/version", path.join(rootDir, "proc.imx"));
      const error = halErrorOf(() => hal.writeFile("proc.imx", new Uint8Array(8)));
      // Root may open it and the write then fails with EIO; other users are refused at open.
      expect(["EIO", "EACCES"]).toContain(error.code);
    },
  );

  it("leaves nothing open: many writes, syncs and reads in a row", () => {
    for (let i = 0; i < 2000; i++) {
      hal.writeFile("f", bytes(String(i)));
      hal.syncFile("f");
      hal.readFileInto("f", new Uint8Array(2));
      hal.syncDir(".");
    }
    expect(text(hal.readFile("f"))).toBe("1999");
  });
});

describe("NodeFsHal.freeBytes", () => {
  let rootDir: string;
  beforeEach(() => {
    rootDir = tempDirMake();
  });
  afterEach(() => fs.rmSync(rootDir, { recursive: true, force: true }));

  it("is statfs(2) of the root's filesystem: available blocks × block size", () => {
    const hal = new NodeFsHal(rootDir);
    const stat = fs.statfsSync(rootDir);
    const free = hal.freeBytes();
    expect(free % stat.bsize).toBe(0);
    // Other processes write to the same filesystem meanwhile: agree within a few MiB.
    expect(Math.abs(free - stat.bavail * stat.bsize)).toBeLessThan(64 << 20);
    expect(hal.stats().calls.freeBytes).toBe(1);
  });

  it("before the root exists, answers for the filesystem it will be created on", () => {
    const hal = new NodeFsHal(path.join(rootDir, "not", "yet"));
    expect(hal.freeBytes()).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(rootDir, "not"))).toBe(false);
  });

  it.skipIf(!tmpfsAvailable("node-fs: the real small-filesystem freeBytes test"))(
    "on a real 256 KiB tmpfs (root): falls as files land, rises as they go, 0 when full",
    () => {
      const mount = path.join(rootDir, "tmpfs");
      const tmpfs = new Tmpfs(mount);
      tmpfs.mount("256k");
      try {
        const hal = new NodeFsHal(path.join(mount, "st"));
        const empty = hal.freeBytes();
        expect(empty).toBe(256 * 1024);
        hal.mkdir(".");
        hal.writeFile("a", new Uint8Array(64 * 1024));
        const afterA = hal.freeBytes();
        expect(empty - afterA).toBeGreaterThanOrEqual(64 * 1024);
        expect(empty - afterA).toBeLessThan(64 * 1024 + 3 * 4096); // the file's blocks, the directory's
        expect(codeOf(() => hal.writeFile("b", new Uint8Array(512 * 1024)))).toBe("ENOSPC");
        expect(hal.freeBytes()).toBe(0);
        hal.remove("b");
        expect(hal.freeBytes()).toBe(afterA);
        hal.remove("a");
        expect(hal.freeBytes()).toBeGreaterThanOrEqual(empty - 2 * 4096);
      } finally {
        tmpfs.unmount();
      }
    },
  );
});

// Differential check: the same random operations on both HALs give the same results and trees.

type OpName = HalOp;

interface RandomOp {
  op: OpName;
  path: string;
  to: string;
  data: Uint8Array;
  intoBytes: number;
}

// Two names and shallow paths, so operations often hit existing files and directories.
const segmentArb = fc.constantFrom("a", "b");
const pathArb = fc.oneof(
  { weight: 20, arbitrary: fc.array(segmentArb, { minLength: 1, maxLength: 3 }).map((s) => s.join("/")) },
  { weight: 1, arbitrary: fc.constantFrom(".", "../a", "", "/a", "a//b") },
);
const opArb: fc.Arbitrary<RandomOp> = fc.record({
  op: fc.constantFrom<OpName>(
    "mkdir",
    "mkdir",
    "writeFile",
    "writeFile",
    "writeFile",
    "appendFile",
    "syncFile",
    "rename",
    "rename",
    "syncDir",
    "readFile",
    "readFileInto",
    "fileSize",
    "remove",
    "removeAsync",
    "list",
    "isDir",
    "exists",
    "removeTree",
  ),
  path: pathArb,
  to: pathArb,
  data: fc.uint8Array({ maxLength: 6 }),
  intoBytes: fc.nat(8),
});

async function outcomeOf(hal: Hal, { op, path: p, to, data, intoBytes }: RandomOp): Promise<unknown> {
  try {
    switch (op) {
      case "writeFile":
        hal.writeFile(p, data);
        return undefined;
      case "appendFile":
        hal.appendFile(p, data);
        return undefined;
      case "rename":
        hal.rename(p, to);
        return undefined;
      case "readFile":
        return [...hal.readFile(p)];
      case "readFileInto": {
        const into = new Uint8Array(intoBytes);
        const count = hal.readFileInto(p, into);
        return [count, [...into]];
      }
      case "removeAsync":
        await hal.removeAsync(p);
        return undefined;
      default: {
        const call: (path: string) => unknown = hal[op].bind(hal);
        return call(p);
      }
    }
  } catch (e) {
    if (e instanceof HalError) return { error: e.code };
    throw e;
  }
}

/** Every path under the root with its content (files) or null (directories), via the Hal API. */
function treeOf(hal: Hal): [string, number[] | null][] {
  const entries: [string, number[] | null][] = [];
  const walk = (dir: string): void => {
    for (const name of hal.list(dir)) {
      const p = dir === "." ? name : `${dir}/${name}`;
      if (hal.isDir(p)) {
        entries.push([p, null]);
        walk(p);
      } else {
        entries.push([p, [...hal.readFile(p)]]);
      }
    }
  };
  walk(".");
  return entries;
}

describe("NodeFsHal and MemoryHal agree", () => {
  it("on random operation sequences", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60, size: "max" }), async (ops) => {
        const rootDir = tempDirMake();
        try {
          const node = new NodeFsHal(rootDir);
          const memory = new MemoryHal();
          for (const [index, op] of ops.entries()) {
            const expected = await outcomeOf(node, op);
            const actual = await outcomeOf(memory, op);
            expect({ index, op: op.op, path: op.path, to: op.to, outcome: actual }).toEqual({
              index,
              op: op.op,
              path: op.path,
              to: op.to,
              outcome: expected,
            });
          }
          expect(treeOf(memory)).toEqual(treeOf(node));
          const { calls: nodeCalls, ...nodeCounts } = node.stats();
          const { calls: memoryCalls, ...memoryCounts } = memory.stats();
          expect(memoryCalls).toEqual(nodeCalls);
          expect(memoryCounts).toEqual(nodeCounts);
        } finally {
          fs.rmSync(rootDir, { recursive: true, force: true });
        }
      }),
      { numRuns: 300 },
    );
  });
});
