// The behaviour every Hal must show, as one suite each implementation runs against a fresh
// instance: file and directory semantics, every error code, path validation, the atomic-write
// helper and the stats counters.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  LIST_DEPTH_MAX,
  TMP_SUFFIX,
  listFilesRecursive,
  mkdirDurable,
  writeFileAtomic,
} from "../../host/hal/atomic.js";
import { type Hal, HalError, type HalErrorCode, type HalOp, halListEntries } from "../../host/hal/hal.js";

export interface HalUnderTest {
  hal: Hal;
  cleanup(): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const bytes = (text: string): Uint8Array => encoder.encode(text);
export const text = (data: Uint8Array): string => decoder.decode(data);

/** The HalError a call throws, failing the test if it returns or throws something else. */
export function halErrorOf(call: () => unknown): HalError {
  try {
    call();
  } catch (e) {
    if (e instanceof HalError) return e;
    throw new Error(`expected a HalError, got ${String(e)}`, { cause: e });
  }
  throw new Error("expected a HalError, but the call succeeded");
}

export function codeOf(call: () => unknown): HalErrorCode {
  return halErrorOf(call).code;
}

async function rejectionOf(promise: Promise<unknown>): Promise<HalError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof HalError) return e;
    throw new Error(`expected a HalError rejection, got ${String(e)}`, { cause: e });
  }
  throw new Error("expected a HalError rejection, but the promise resolved");
}

/** `inner` with `op` replaced by one that throws `code`. */
function halFailingOn(inner: Hal, op: HalOp, code: HalErrorCode): Hal {
  return new Proxy(inner, {
    get(target, property) {
      if (property === op) {
        return () => {
          throw new HalError(code, op, "", "injected");
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value.bind(target) as unknown) : value;
    },
  });
}

const BAD_PATHS = [
  "",
  "/",
  "/abs",
  "/abs/x",
  "..",
  "../x",
  "a/..",
  "a/../b",
  "./a",
  "a/./b",
  "a//b",
  "a/",
  "a\\b",
  "a\0b",
];

export function halConformanceSuite(name: string, make: () => HalUnderTest): void {
  describe(`Hal conformance: ${name}`, () => {
    let hal: Hal;
    let cleanup: () => void;

    beforeEach(() => {
      const made = make();
      hal = made.hal;
      cleanup = () => made.cleanup();
    });
    afterEach(() => cleanup());

    describe("directories", () => {
      it("reports a kind", () => {
        expect(typeof hal.kind).toBe("string");
        expect(hal.kind.length).toBeGreaterThan(0);
      });

      it("starts with an empty root", () => {
        expect(hal.list(".")).toEqual([]);
        expect(hal.isDir(".")).toBe(true);
        expect(hal.exists(".")).toBe(true);
      });

      it("mkdir creates missing parents and is fine when the directory exists", () => {
        hal.mkdir("a/b/c");
        expect(hal.isDir("a")).toBe(true);
        expect(hal.isDir("a/b/c")).toBe(true);
        hal.mkdir("a/b/c");
        hal.mkdir("a");
        hal.mkdir(".");
        expect(hal.list("a")).toEqual(["b"]);
      });

      it("mkdir over a file is EEXIST, through a file is ENOTDIR", () => {
        hal.writeFile("f", bytes("x"));
        expect(codeOf(() => hal.mkdir("f"))).toBe("EEXIST");
        expect(codeOf(() => hal.mkdir("f/sub"))).toBe("ENOTDIR");
        expect(codeOf(() => hal.mkdir("f/sub/deeper"))).toBe("ENOTDIR");
      });

      it("list returns files and directories directly inside, sorted", () => {
        hal.mkdir("d/zeta");
        for (const n of ["b.imx", "a.imx", "C.imx", "10.imx", "9.imx"]) hal.writeFile(`d/${n}`, bytes(n));
        hal.writeFile("d/zeta/inner.imx", bytes("inner"));
        expect(hal.list("d")).toEqual(["10.imx", "9.imx", "C.imx", "a.imx", "b.imx", "zeta"]);
        expect(hal.list(".")).toEqual(["d"]);
        hal.mkdir("empty");
        expect(hal.list("empty")).toEqual([]);
      });

      it("listEntries (or its list + isDir fallback) says which entries are directories, sorted like list", () => {
        hal.mkdir("d/zeta");
        hal.mkdir("d/alpha");
        for (const n of ["b.imx", "a.imx", "10.imx"]) hal.writeFile(`d/${n}`, bytes(n));
        const entries = halListEntries(hal, "d");
        expect(entries.map((e) => e.name)).toEqual(hal.list("d"));
        expect(entries.filter((e) => e.isDir).map((e) => e.name)).toEqual(["alpha", "zeta"]);
        expect(halListEntries(hal, ".")).toEqual([{ name: "d", isDir: true }]);
        expect(codeOf(() => halListEntries(hal, "missing"))).toBe("ENOENT");
        hal.writeFile("f", bytes("x"));
        expect(codeOf(() => halListEntries(hal, "f"))).toBe("ENOTDIR");
      });

      it("list of a missing directory is ENOENT, of a file ENOTDIR", () => {
        hal.writeFile("f", bytes("x"));
        expect(codeOf(() => hal.list("missing"))).toBe("ENOENT");
        expect(codeOf(() => hal.list("missing/deeper"))).toBe("ENOENT");
        expect(codeOf(() => hal.list("f"))).toBe("ENOTDIR");
        expect(codeOf(() => hal.list("f/x"))).toBe("ENOTDIR");
      });

      it("isDir and exists tell files, directories and missing paths apart", () => {
        hal.mkdir("d");
        hal.writeFile("d/f", bytes("x"));
        expect([hal.isDir("d"), hal.exists("d")]).toEqual([true, true]);
        expect([hal.isDir("d/f"), hal.exists("d/f")]).toEqual([false, true]);
        expect([hal.isDir("nope"), hal.exists("nope")]).toEqual([false, false]);
        expect([hal.isDir("nope/x"), hal.exists("nope/x")]).toEqual([false, false]);
        expect([hal.isDir("d/f/x"), hal.exists("d/f/x")]).toEqual([false, false]);
      });

      it("syncDir works on the root and nested directories", () => {
        hal.mkdir("a/b");
        hal.syncDir(".");
        hal.syncDir("a");
        hal.syncDir("a/b");
      });

      it("syncDir of a missing directory is ENOENT, of a file ENOTDIR", () => {
        hal.writeFile("f", bytes("x"));
        expect(codeOf(() => hal.syncDir("missing"))).toBe("ENOENT");
        expect(codeOf(() => hal.syncDir("f"))).toBe("ENOTDIR");
        expect(codeOf(() => hal.syncDir("f/x"))).toBe("ENOTDIR");
      });

      it("removeTree removes a whole tree, leaves siblings, and is fine when missing", () => {
        hal.mkdir("t/a/b");
        hal.writeFile("t/a/b/f.imx", bytes("1"));
        hal.writeFile("t/g.imx", bytes("2"));
        hal.mkdir("keep");
        hal.writeFile("keep/h.imx", bytes("3"));
        hal.removeTree("t");
        expect(hal.exists("t")).toBe(false);
        expect(hal.list(".")).toEqual(["keep"]);
        expect(text(hal.readFile("keep/h.imx"))).toBe("3");
        hal.removeTree("t");
        hal.removeTree("missing/deeper");
      });

      it("removeTree removes a single file, refuses the root, and is ENOTDIR through a file", () => {
        hal.writeFile("f", bytes("x"));
        expect(codeOf(() => hal.removeTree("."))).toBe("EINVAL");
        expect(codeOf(() => hal.removeTree("f/x"))).toBe("ENOTDIR");
        hal.removeTree("f");
        expect(hal.exists("f")).toBe(false);
      });
    });

    describe("files", () => {
      it("writeFile then readFile round-trips the bytes", () => {
        hal.mkdir("d");
        const data = new Uint8Array(256).map((_, i) => i);
        hal.writeFile("d/f.imx", data);
        expect(hal.readFile("d/f.imx")).toEqual(data);
        expect(hal.fileSize("d/f.imx")).toBe(256);
      });

      it("writeFile at the root and of zero bytes works", () => {
        hal.writeFile("empty.imx", new Uint8Array(0));
        expect(hal.readFile("empty.imx")).toEqual(new Uint8Array(0));
        expect(hal.fileSize("empty.imx")).toBe(0);
      });

      it("writeFile truncates a longer existing file", () => {
        hal.writeFile("f", bytes("a long first version"));
        hal.writeFile("f", bytes("short"));
        expect(text(hal.readFile("f"))).toBe("short");
        expect(hal.fileSize("f")).toBe(5);
      });

      it("appendFile creates a missing file and appends to an existing one", () => {
        hal.mkdir("d");
        hal.appendFile("d/log", bytes("one"));
        hal.appendFile("d/log", bytes("two").subarray(0, 3));
        hal.appendFile("d/log", new Uint8Array(0));
        expect(text(hal.readFile("d/log"))).toBe("onetwo");
        expect(hal.fileSize("d/log")).toBe(6);
        hal.writeFile("d/log", bytes("x"));
        hal.appendFile("d/log", bytes("y"));
        expect(text(hal.readFile("d/log"))).toBe("xy");
      });

      it("appendFile into a missing directory is ENOENT, onto a directory EINVAL", () => {
        expect(codeOf(() => hal.appendFile("missing/log", bytes("a")))).toBe("ENOENT");
        hal.mkdir("d");
        expect(codeOf(() => hal.appendFile("d", bytes("a")))).toBe("EINVAL");
      });

      it("writeFile writes exactly the bytes of a subarray view", () => {
        const backing = bytes("xxHELLOyy");
        hal.writeFile("f", backing.subarray(2, 7));
        expect(text(hal.readFile("f"))).toBe("HELLO");
      });

      it("writeFile copies its input and readFile returns a private copy", () => {
        const data = bytes("abc");
        hal.writeFile("f", data);
        data[0] = 0x7a;
        const read = hal.readFile("f");
        expect(text(read)).toBe("abc");
        read[1] = 0x7a;
        expect(text(hal.readFile("f"))).toBe("abc");
      });

      it("handles a file of a few megabytes", () => {
        const data = new Uint8Array(3 * 1024 * 1024 + 17);
        for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 8)) & 0xff;
        hal.writeFile("big", data);
        expect(hal.fileSize("big")).toBe(data.length);
        const read = hal.readFile("big");
        expect(read.length).toBe(data.length);
        expect(Buffer.compare(read, data)).toBe(0);
        const into = new Uint8Array(data.length + 5);
        expect(hal.readFileInto("big", into)).toBe(data.length);
        expect(Buffer.compare(into.subarray(0, data.length), data)).toBe(0);
      });

      it("writeFile into a missing directory is ENOENT, through a file ENOTDIR, onto a directory EINVAL", () => {
        hal.writeFile("f", bytes("x"));
        hal.mkdir("d");
        expect(codeOf(() => hal.writeFile("missing/f", bytes("x")))).toBe("ENOENT");
        expect(codeOf(() => hal.writeFile("missing/deeper/f", bytes("x")))).toBe("ENOENT");
        expect(codeOf(() => hal.writeFile("f/x", bytes("x")))).toBe("ENOTDIR");
        expect(codeOf(() => hal.writeFile("f/x/y", bytes("x")))).toBe("ENOTDIR");
        expect(codeOf(() => hal.writeFile("d", bytes("x")))).toBe("EINVAL");
        expect(codeOf(() => hal.writeFile(".", bytes("x")))).toBe("EINVAL");
        expect(hal.list(".")).toEqual(["d", "f"]);
      });

      it("readFile of a missing file is ENOENT, of a directory EINVAL, through a file ENOTDIR", () => {
        hal.mkdir("d");
        hal.writeFile("f", bytes("x"));
        expect(codeOf(() => hal.readFile("missing"))).toBe("ENOENT");
        expect(codeOf(() => hal.readFile("d/missing"))).toBe("ENOENT");
        expect(codeOf(() => hal.readFile("d"))).toBe("EINVAL");
        expect(codeOf(() => hal.readFile("."))).toBe("EINVAL");
        expect(codeOf(() => hal.readFile("f/x"))).toBe("ENOTDIR");
      });

      it("readFileInto reads a whole smaller file and returns its size", () => {
        hal.writeFile("f", bytes("hello"));
        const into = new Uint8Array(16).fill(0xee);
        expect(hal.readFileInto("f", into)).toBe(5);
        expect(text(into.subarray(0, 5))).toBe("hello");
        expect(into[5]).toBe(0xee);
      });

      it("readFileInto reads only a prefix of a bigger file and returns into.length", () => {
        hal.writeFile("f", bytes("hello world"));
        const into = new Uint8Array(5);
        expect(hal.readFileInto("f", into)).toBe(5);
        expect(text(into)).toBe("hello");
      });

      it("readFileInto of an exact size, into a zero-length buffer and into a subarray view", () => {
        hal.writeFile("f", bytes("abcd"));
        const exact = new Uint8Array(4);
        expect(hal.readFileInto("f", exact)).toBe(4);
        expect(text(exact)).toBe("abcd");
        expect(hal.readFileInto("f", new Uint8Array(0))).toBe(0);
        const backing = new Uint8Array(8);
        expect(hal.readFileInto("f", backing.subarray(2, 5))).toBe(3);
        expect([...backing]).toEqual([0, 0, 0x61, 0x62, 0x63, 0, 0, 0]);
        hal.writeFile("empty", new Uint8Array(0));
        expect(hal.readFileInto("empty", new Uint8Array(4))).toBe(0);
      });

      it("readFileInto of a missing file is ENOENT, of a directory EINVAL whatever the buffer size", () => {
        hal.mkdir("d");
        expect(codeOf(() => hal.readFileInto("missing", new Uint8Array(4)))).toBe("ENOENT");
        expect(codeOf(() => hal.readFileInto("d", new Uint8Array(4)))).toBe("EINVAL");
        expect(codeOf(() => hal.readFileInto("d", new Uint8Array(0)))).toBe("EINVAL");
      });

      it("fileSize of a missing file is ENOENT, of a directory EINVAL", () => {
        hal.mkdir("d");
        expect(codeOf(() => hal.fileSize("missing"))).toBe("ENOENT");
        expect(codeOf(() => hal.fileSize("d"))).toBe("EINVAL");
        expect(codeOf(() => hal.fileSize("."))).toBe("EINVAL");
      });

      it("syncFile succeeds on a file, is ENOENT when missing and EINVAL on a directory", () => {
        hal.mkdir("d");
        hal.writeFile("d/f", bytes("x"));
        hal.syncFile("d/f");
        expect(codeOf(() => hal.syncFile("d/missing"))).toBe("ENOENT");
        expect(codeOf(() => hal.syncFile("d"))).toBe("EINVAL");
      });

      it("remove unlinks a file; ENOENT if missing, EINVAL on a directory, ENOTDIR through a file", () => {
        hal.mkdir("d");
        hal.writeFile("d/f", bytes("x"));
        hal.remove("d/f");
        expect(hal.exists("d/f")).toBe(false);
        expect(hal.list("d")).toEqual([]);
        expect(codeOf(() => hal.remove("d/f"))).toBe("ENOENT");
        expect(codeOf(() => hal.remove("d"))).toBe("EINVAL");
        expect(codeOf(() => hal.remove("."))).toBe("EINVAL");
        hal.writeFile("g", bytes("x"));
        expect(codeOf(() => hal.remove("g/x"))).toBe("ENOTDIR");
        expect(hal.isDir("d")).toBe(true);
      });

      it("removeAsync unlinks a file", async () => {
        hal.writeFile("f", bytes("x"));
        await hal.removeAsync("f");
        expect(hal.exists("f")).toBe(false);
      });

      it("removeAsync rejects (does not throw) with ENOENT, EINVAL on a directory and EINVAL on a bad path", async () => {
        hal.mkdir("d");
        let bad: Promise<HalError> | undefined;
        expect(() => {
          bad = rejectionOf(hal.removeAsync("../escape"));
        }).not.toThrow();
        expect((await rejectionOf(hal.removeAsync("missing"))).code).toBe("ENOENT");
        expect((await rejectionOf(hal.removeAsync("d"))).code).toBe("EINVAL");
        const badError = await (bad as Promise<HalError>);
        expect(badError.code).toBe("EINVAL");
        expect(badError.op).toBe("removeAsync");
      });
    });

    describe("rename", () => {
      it("moves a file to a new name", () => {
        hal.writeFile("a", bytes("content"));
        hal.rename("a", "b");
        expect(hal.exists("a")).toBe(false);
        expect(text(hal.readFile("b"))).toBe("content");
      });

      it("replaces an existing file", () => {
        hal.writeFile("old", bytes("old content, longer"));
        hal.writeFile("new", bytes("new"));
        hal.rename("new", "old");
        expect(hal.list(".")).toEqual(["old"]);
        expect(text(hal.readFile("old"))).toBe("new");
        expect(hal.fileSize("old")).toBe(3);
      });

      it("moves a file across directories", () => {
        hal.mkdir("x/y");
        hal.mkdir("z");
        hal.writeFile("x/y/f", bytes("1"));
        hal.rename("x/y/f", "z/g");
        expect(hal.list("x/y")).toEqual([]);
        expect(text(hal.readFile("z/g"))).toBe("1");
      });

      it("onto itself is a no-op", () => {
        hal.writeFile("f", bytes("1"));
        hal.rename("f", "f");
        expect(text(hal.readFile("f"))).toBe("1");
        hal.mkdir("d");
        hal.rename("d", "d");
        expect(hal.isDir("d")).toBe(true);
      });

      it("moves a directory with its contents, also onto an empty directory", () => {
        hal.mkdir("src/inner");
        hal.writeFile("src/inner/f", bytes("1"));
        hal.rename("src", "dst");
        expect(hal.exists("src")).toBe(false);
        expect(text(hal.readFile("dst/inner/f"))).toBe("1");
        hal.mkdir("empty");
        hal.rename("dst", "empty");
        expect(hal.list(".")).toEqual(["empty"]);
        expect(text(hal.readFile("empty/inner/f"))).toBe("1");
      });

      it("of a missing source is ENOENT, into a missing directory ENOENT, through a file ENOTDIR", () => {
        hal.writeFile("f", bytes("1"));
        expect(codeOf(() => hal.rename("missing", "g"))).toBe("ENOENT");
        expect(codeOf(() => hal.rename("missing/x", "g"))).toBe("ENOENT");
        expect(codeOf(() => hal.rename("f", "missing/g"))).toBe("ENOENT");
        expect(codeOf(() => hal.rename("f", "f/g"))).toBe("ENOTDIR");
        expect(codeOf(() => hal.rename("f/x", "g"))).toBe("ENOTDIR");
        expect(text(hal.readFile("f"))).toBe("1");
      });

      it("refuses type mismatches, non-empty targets, moves into itself and the root", () => {
        hal.writeFile("f", bytes("1"));
        hal.mkdir("d/sub");
        hal.mkdir("e");
        hal.writeFile("e/x", bytes("2"));
        expect(codeOf(() => hal.rename("f", "d"))).toBe("EINVAL");
        expect(codeOf(() => hal.rename("d", "f"))).toBe("ENOTDIR");
        expect(codeOf(() => hal.rename("d", "e"))).toBe("EEXIST");
        expect(codeOf(() => hal.rename("d", "d/sub/deeper"))).toBe("EINVAL");
        expect(codeOf(() => hal.rename("d/sub", "d"))).toBe("EEXIST");
        expect(codeOf(() => hal.rename("e/x", "e"))).toBe("EEXIST");
        expect(codeOf(() => hal.rename(".", "g"))).toBe("EINVAL");
        expect(codeOf(() => hal.rename("f", "."))).toBe("EINVAL");
        expect(hal.list(".")).toEqual(["d", "e", "f"]);
        expect(hal.list("d")).toEqual(["sub"]);
      });
    });

    describe("path validation", () => {
      const data = new Uint8Array(1);
      const calls: Record<Exclude<HalOp, "removeAsync" | "freeBytes">, (path: string) => unknown> = {
        mkdir: (p) => hal.mkdir(p),
        writeFile: (p) => hal.writeFile(p, data),
        appendFile: (p) => hal.appendFile(p, data),
        syncFile: (p) => hal.syncFile(p),
        rename: (p) => hal.rename(p, "target"),
        syncDir: (p) => hal.syncDir(p),
        readFile: (p) => hal.readFile(p),
        readFileInto: (p) => hal.readFileInto(p, new Uint8Array(4)),
        fileSize: (p) => hal.fileSize(p),
        remove: (p) => hal.remove(p),
        list: (p) => hal.list(p),
        isDir: (p) => hal.isDir(p),
        exists: (p) => hal.exists(p),
        removeTree: (p) => hal.removeTree(p),
      };

      for (const [op, call] of Object.entries(calls)) {
        it(`${op} rejects absolute, '..', '.', empty-segment, backslash and empty paths with EINVAL`, () => {
          for (const bad of BAD_PATHS) {
            const error = halErrorOf(() => call(bad));
            expect({ bad, code: error.code }).toEqual({ bad, code: "EINVAL" });
            expect(error.op).toBe(op);
            expect(error.path).toBe(bad);
          }
        });
      }

      it("rename checks the target path too", () => {
        hal.writeFile("f", data);
        for (const bad of BAD_PATHS) expect(codeOf(() => hal.rename("f", bad))).toBe("EINVAL");
        expect(hal.exists("f")).toBe(true);
      });

      it("removeAsync rejects every bad path with EINVAL", async () => {
        for (const bad of BAD_PATHS) expect((await rejectionOf(hal.removeAsync(bad))).code).toBe("EINVAL");
      });

      it("nothing escaped the root", () => {
        for (const call of Object.values(calls)) for (const bad of BAD_PATHS) halErrorOf(() => call(bad));
        expect(hal.list(".")).toEqual([]);
      });
    });

    describe("freeBytes", () => {
      it("is a whole number of bytes or Infinity, and never negative", () => {
        const free = hal.freeBytes();
        expect(free === Infinity || Number.isSafeInteger(free)).toBe(true);
        expect(free).toBeGreaterThanOrEqual(0);
      });

      it("answers before anything is written and after files come and go", () => {
        expect(hal.freeBytes()).toBeGreaterThanOrEqual(0);
        hal.mkdir("d");
        hal.writeFile("d/f", new Uint8Array(100));
        expect(hal.freeBytes()).toBeGreaterThanOrEqual(0);
        hal.removeTree("d");
        expect(hal.freeBytes()).toBeGreaterThanOrEqual(0);
      });
    });

    describe("writeFileAtomic", () => {
      it("creates the file and leaves no temporary file", () => {
        hal.mkdir("d");
        writeFileAtomic(hal, "d/f.imx", bytes("v1"));
        expect(hal.list("d")).toEqual(["f.imx"]);
        expect(text(hal.readFile("d/f.imx"))).toBe("v1");
      });

      it("replaces an existing file and syncs both the file and its directory", () => {
        writeFileAtomic(hal, "f.imx", bytes("version one"));
        const before = hal.stats();
        writeFileAtomic(hal, "f.imx", bytes("v2"));
        const after = hal.stats();
        expect(hal.list(".")).toEqual(["f.imx"]);
        expect(text(hal.readFile("f.imx"))).toBe("v2");
        expect(after.calls.syncFile - before.calls.syncFile).toBe(1);
        expect(after.calls.syncDir - before.calls.syncDir).toBe(1);
        expect(after.calls.rename - before.calls.rename).toBe(1);
        expect(after.syncs - before.syncs).toBe(2);
      });

      it("overwrites a stale temporary file left by an earlier failure", () => {
        hal.writeFile("f.imx" + TMP_SUFFIX, bytes("stale garbage"));
        writeFileAtomic(hal, "f.imx", bytes("fresh"));
        expect(hal.list(".")).toEqual(["f.imx"]);
        expect(text(hal.readFile("f.imx"))).toBe("fresh");
      });

      for (const failingOp of ["syncFile", "rename"] as const) {
        it(`removes the temporary file and rethrows when ${failingOp} fails, keeping the old content`, () => {
          writeFileAtomic(hal, "f.imx", bytes("old"));
          const faulty = halFailingOn(hal, failingOp, "EIO");
          const error = halErrorOf(() => writeFileAtomic(faulty, "f.imx", bytes("new")));
          expect(error.code).toBe("EIO");
          expect(error.op).toBe(failingOp);
          expect(hal.list(".")).toEqual(["f.imx"]);
          expect(text(hal.readFile("f.imx"))).toBe("old");
        });
      }

      it("rethrows a writeFile failure and leaves nothing behind", () => {
        expect(codeOf(() => writeFileAtomic(hal, "missing/f.imx", bytes("x")))).toBe("ENOENT");
        const faulty = halFailingOn(hal, "writeFile", "ENOSPC");
        expect(codeOf(() => writeFileAtomic(faulty, "f.imx", bytes("x")))).toBe("ENOSPC");
        expect(hal.list(".")).toEqual([]);
      });

      it("rethrows a syncDir failure after the new content is in place", () => {
        const faulty = halFailingOn(hal, "syncDir", "EIO");
        expect(codeOf(() => writeFileAtomic(faulty, "f.imx", bytes("new")))).toBe("EIO");
        expect(hal.list(".")).toEqual(["f.imx"]);
        expect(text(hal.readFile("f.imx"))).toBe("new");
      });
    });

    describe("mkdirDurable and listFilesRecursive", () => {
      it("mkdirDurable creates nested directories and is fine when they exist", () => {
        hal.mkdir("a");
        mkdirDurable(hal, "a/b/c");
        mkdirDurable(hal, "a/b/c");
        mkdirDurable(hal, ".");
        expect(hal.isDir("a/b/c")).toBe(true);
        hal.writeFile("f", bytes("x"));
        expect(codeOf(() => mkdirDurable(hal, "f"))).toBe("EEXIST");
      });

      it("listFilesRecursive finds files by suffix up to LIST_DEPTH_MAX levels down, sorted", () => {
        expect(LIST_DEPTH_MAX).toBe(4);
        hal.mkdir("s/d1/d2/d3/d4/d5");
        hal.mkdir("s/dir.imx");
        hal.mkdir("s/a-b");
        const wanted = ["s/a-b/x.imx", "s/a.imx", "s/d1/b.imx", "s/d1/d2/d3/d4/c.imx", "s/dir.imx/f.imx"];
        for (const p of [...wanted, "s/d1/d2/d3/d4/d5/too-deep.imx", "s/notes.txt", "s/d1/x.imx.tmp", "top.imx"]) {
          hal.writeFile(p, bytes(p));
        }
        expect(listFilesRecursive(hal, "s", ".imx")).toEqual([...wanted].sort());
        expect(listFilesRecursive(hal, ".", ".txt")).toEqual(["s/notes.txt"]);
        expect(listFilesRecursive(hal, "s/d1", ".tmp")).toEqual(["s/d1/x.imx.tmp"]);
      });

      it("listFilesRecursive of a missing directory throws ENOENT", () => {
        expect(codeOf(() => listFilesRecursive(hal, "missing", ".imx"))).toBe("ENOENT");
      });
    });

    describe("stats", () => {
      it("counts calls per op, bytes, created and removed files and syncs", async () => {
        const before = hal.stats();
        hal.mkdir("d");
        hal.writeFile("d/a", new Uint8Array(10));
        hal.writeFile("d/a", new Uint8Array(5));
        hal.writeFile("d/b", new Uint8Array(7));
        hal.syncFile("d/a");
        hal.syncDir("d");
        hal.readFile("d/a");
        hal.readFileInto("d/b", new Uint8Array(3));
        hal.fileSize("d/a");
        hal.rename("d/a", "d/c");
        hal.list("d");
        hal.isDir("d");
        hal.exists("d/c");
        hal.remove("d/c");
        await hal.removeAsync("d/b");
        codeOf(() => hal.remove("d/c"));
        codeOf(() => hal.readFile("missing"));
        hal.removeTree("d");
        hal.freeBytes();
        const after = hal.stats();

        const callsDelta = Object.fromEntries(
          Object.entries(after.calls).map(([op, count]) => [op, count - before.calls[op as HalOp]]),
        );
        expect(callsDelta).toEqual({
          mkdir: 1,
          writeFile: 3,
          appendFile: 0,
          syncFile: 1,
          rename: 1,
          syncDir: 1,
          readFile: 2,
          readFileInto: 1,
          fileSize: 1,
          remove: 2,
          removeAsync: 1,
          list: 1,
          isDir: 1,
          exists: 1,
          removeTree: 1,
          freeBytes: 1,
        });
        expect(after.bytesWritten - before.bytesWritten).toBe(22);
        expect(after.bytesRead - before.bytesRead).toBe(8);
        expect(after.filesCreated - before.filesCreated).toBe(2);
        expect(after.filesRemoved - before.filesRemoved).toBe(2);
        expect(after.syncs - before.syncs).toBe(2);
      });

      it("returns a snapshot that later calls do not change", () => {
        const first = hal.stats();
        hal.writeFile("f", new Uint8Array(4));
        expect(first.calls.writeFile).toBe(0);
        expect(first.bytesWritten).toBe(0);
        expect(hal.stats().calls.writeFile).toBe(1);
        expect(hal.stats().bytesWritten).toBe(4);
      });
    });
  });
}
