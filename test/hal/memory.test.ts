// MemoryHal passes the shared conformance suite, and its durability model behaves as documented:
// crash() keeps synced content and synced directory entries and reverts everything else;
// clone() and snapshot() copy state for restart tests.

import { describe, expect, it } from "vitest";
import { mkdirDurable, writeFileAtomic } from "../../host/hal/atomic.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { bytes, codeOf, halConformanceSuite, halErrorOf, text } from "./hal-conformance.js";

halConformanceSuite("MemoryHal", () => ({ hal: new MemoryHal(), cleanup: () => {} }));

/** A MemoryHal with the durable directory "d". */
function halWithDurableDir(): MemoryHal {
  const hal = new MemoryHal();
  hal.mkdir("d");
  hal.syncDir(".");
  return hal;
}

function filesOf(hal: MemoryHal): Record<string, string> {
  return Object.fromEntries([...hal.snapshot().files].map(([p, data]) => [p, text(data)]));
}

describe("MemoryHal crash()", () => {
  it("keeps a file whose content and directory entry were both synced", () => {
    const hal = halWithDurableDir();
    hal.writeFile("d/f.imx", bytes("data"));
    hal.syncFile("d/f.imx");
    hal.syncDir("d");
    expect(hal.isDurable("d/f.imx")).toBe(true);
    hal.crash();
    expect(filesOf(hal)).toEqual({ "d/f.imx": "data" });
  });

  it("keeps an appended file up to its last sync", () => {
    const hal = halWithDurableDir();
    hal.appendFile("d/log", bytes("one"));
    hal.syncFile("d/log");
    hal.syncDir("d");
    hal.appendFile("d/log", bytes("two"));
    hal.syncFile("d/log");
    hal.appendFile("d/log", bytes("three")); // never synced
    hal.crash();
    expect(filesOf(hal)).toEqual({ "d/log": "onetwo" });
  });

  it("drops a new file whose directory was not synced, even if its content was", () => {
    const hal = halWithDurableDir();
    hal.writeFile("d/f.imx", bytes("data"));
    hal.syncFile("d/f.imx");
    expect(hal.isDurable("d/f.imx")).toBe(false);
    hal.crash();
    expect(hal.list("d")).toEqual([]);
  });

  it("keeps an unsynced file whose entry was synced, but empty", () => {
    const hal = halWithDurableDir();
    hal.writeFile("d/f.imx", bytes("data"));
    hal.syncDir("d");
    expect(hal.isDurable("d/f.imx")).toBe(false);
    hal.crash();
    expect(filesOf(hal)).toEqual({ "d/f.imx": "" });
  });

  it("reverts an overwrite that was not synced to the last synced content", () => {
    const hal = halWithDurableDir();
    writeFileAtomic(hal, "d/f.imx", bytes("v1"));
    hal.writeFile("d/f.imx", bytes("v2 in place"));
    expect(hal.isDurable("d/f.imx")).toBe(false);
    hal.crash();
    expect(filesOf(hal)).toEqual({ "d/f.imx": "v1" });
  });

  it("keeps the new content of writeFileAtomic, and the old one if the crash comes before syncDir", () => {
    const hal = halWithDurableDir();
    writeFileAtomic(hal, "d/f.imx", bytes("v1"));
    writeFileAtomic(hal, "d/f.imx", bytes("v2"));
    expect(hal.isDurable("d/f.imx")).toBe(true);
    const afterCrash = hal.clone();
    afterCrash.crash();
    expect(filesOf(afterCrash)).toEqual({ "d/f.imx": "v2" });

    hal.writeFile("d/f.imx.tmp", bytes("v3"));
    hal.syncFile("d/f.imx.tmp");
    hal.rename("d/f.imx.tmp", "d/f.imx");
    hal.crash();
    expect(filesOf(hal)).toEqual({ "d/f.imx": "v2" });
  });

  it("shows why the temp file must be synced before the rename", () => {
    const hal = halWithDurableDir();
    writeFileAtomic(hal, "d/f.imx", bytes("v1"));
    hal.writeFile("d/f.imx.tmp", bytes("v2"));
    hal.rename("d/f.imx.tmp", "d/f.imx");
    hal.syncDir("d");
    hal.crash();
    expect(filesOf(hal)).toEqual({ "d/f.imx": "" });
  });

  it("brings back a file removed without syncDir, and not one removed with it", async () => {
    const hal = halWithDurableDir();
    writeFileAtomic(hal, "d/a.imx", bytes("a"));
    writeFileAtomic(hal, "d/b.imx", bytes("b"));
    hal.remove("d/a.imx");
    await hal.removeAsync("d/b.imx");
    const unsynced = hal.clone();
    unsynced.crash();
    expect(filesOf(unsynced)).toEqual({ "d/a.imx": "a", "d/b.imx": "b" });
    hal.syncDir("d");
    hal.crash();
    expect(filesOf(hal)).toEqual({});
  });

  it("treats removeAsync as not done until its promise settles", async () => {
    const hal = halWithDurableDir();
    writeFileAtomic(hal, "d/a.imx", bytes("a"));
    const pending = hal.removeAsync("d/a.imx");
    expect(hal.exists("d/a.imx")).toBe(true);
    await pending;
    expect(hal.exists("d/a.imx")).toBe(false);
  });

  it("undoes an unsynced rename across directories only in the directories not synced", () => {
    const hal = new MemoryHal();
    mkdirDurable(hal, "from");
    mkdirDurable(hal, "to");
    writeFileAtomic(hal, "from/x.imx", bytes("x"));
    hal.rename("from/x.imx", "to/x.imx");
    const neither = hal.clone();
    neither.crash();
    expect(filesOf(neither)).toEqual({ "from/x.imx": "x" });
    hal.syncDir("to");
    const targetOnly = hal.clone();
    targetOnly.crash();
    expect(filesOf(targetOnly)).toEqual({ "from/x.imx": "x", "to/x.imx": "x" });
    hal.syncDir("from");
    hal.crash();
    expect(filesOf(hal)).toEqual({ "to/x.imx": "x" });
  });

  it("loses a directory made with plain mkdir until its parent is synced; mkdirDurable keeps it", () => {
    const hal = new MemoryHal();
    mkdirDurable(hal, "durable/sub");
    writeFileAtomic(hal, "durable/sub/g.imx", bytes("g"));
    hal.mkdir("plain/sub");
    writeFileAtomic(hal, "plain/sub/f.imx", bytes("f"));
    expect(hal.isDurable("plain/sub/f.imx")).toBe(false);
    expect(hal.isDurable("durable/sub/g.imx")).toBe(true);
    hal.crash();
    expect(hal.snapshot().dirs).toEqual(["durable", "durable/sub"]);
    expect(filesOf(hal)).toEqual({ "durable/sub/g.imx": "g" });
  });

  it("brings back a tree removed with removeTree until its parent is synced", () => {
    const hal = new MemoryHal();
    mkdirDurable(hal, "t/sub");
    writeFileAtomic(hal, "t/sub/f.imx", bytes("f"));
    hal.removeTree("t");
    const unsynced = hal.clone();
    unsynced.crash();
    expect(filesOf(unsynced)).toEqual({ "t/sub/f.imx": "f" });
    hal.syncDir(".");
    hal.crash();
    expect(hal.list(".")).toEqual([]);
  });

  it("leaves everything durable, so a second crash changes nothing", () => {
    const hal = halWithDurableDir();
    writeFileAtomic(hal, "d/a.imx", bytes("a"));
    hal.writeFile("d/b.imx", bytes("b"));
    hal.syncDir("d");
    hal.crash();
    const first = hal.snapshot();
    expect(hal.isDurable("d/b.imx")).toBe(true);
    hal.crash();
    expect(hal.snapshot()).toEqual(first);
  });

  it("terminates when directory renames leave the durable tables pointing in a cycle", () => {
    const hal = new MemoryHal();
    mkdirDurable(hal, "a/b");
    hal.rename("a/b", "x");
    hal.rename("a", "x/a");
    hal.syncDir("x");
    hal.crash();
    expect(hal.snapshot().dirs).toEqual(["a", "a/b"]);
  });

  it("keeps counting stats across a crash", () => {
    const hal = halWithDurableDir();
    hal.writeFile("d/f", bytes("1"));
    hal.crash();
    expect(hal.stats().calls.writeFile).toBe(1);
  });
});

describe("MemoryHal clone() and snapshot()", () => {
  it("clone is independent of the original in both directions, durability included", () => {
    const hal = halWithDurableDir();
    writeFileAtomic(hal, "d/a.imx", bytes("a"));
    hal.writeFile("d/b.imx", bytes("unsynced"));
    hal.syncDir("d");
    const copy = hal.clone();
    expect(copy.snapshot()).toEqual(hal.snapshot());
    expect(copy.stats().calls.writeFile).toBe(0);

    copy.writeFile("d/a.imx", bytes("changed"));
    copy.remove("d/b.imx");
    expect(filesOf(hal)).toEqual({ "d/a.imx": "a", "d/b.imx": "unsynced" });

    hal.crash();
    expect(filesOf(hal)).toEqual({ "d/a.imx": "a", "d/b.imx": "" });
    expect(filesOf(copy)).toEqual({ "d/a.imx": "changed" });
    copy.crash();
    expect(filesOf(copy)).toEqual({ "d/a.imx": "a", "d/b.imx": "" });
  });

  it("snapshot lists directories and files sorted, with copied contents", () => {
    const hal = new MemoryHal();
    hal.mkdir("z/y");
    hal.mkdir("a-b");
    hal.writeFile("z/y/f", bytes("f"));
    hal.writeFile("a", bytes("a"));
    const snap = hal.snapshot();
    expect(snap.dirs).toEqual(["a-b", "z", "z/y"]);
    expect([...snap.files.keys()]).toEqual(["a", "z/y/f"]);
    snap.files.get("a")?.fill(0);
    expect(text(hal.readFile("a"))).toBe("a");
  });

  it("isDurable checks the path like every other method", () => {
    const hal = new MemoryHal();
    expect(codeOf(() => hal.isDurable("../x"))).toBe("EINVAL");
    expect(hal.isDurable(".")).toBe(true);
    expect(hal.isDurable("missing")).toBe(false);
  });
});

// A MemoryHal with capacityBytes models a filesystem smaller than a board's quota, or one another
// process filled: the visible files' bytes count against it, a write past it lands what fits and
// throws ENOSPC, and freeBytes() says what is left.
halConformanceSuite("MemoryHal with a capacity", () => ({
  hal: new MemoryHal({ capacityBytes: 64 << 20 }),
  cleanup: () => {},
}));

describe("MemoryHal capacity", () => {
  it("is unlimited by default: freeBytes() is Infinity", () => {
    const hal = new MemoryHal();
    hal.writeFile("f", new Uint8Array(1000));
    expect(hal.capacityBytes).toBeNull();
    expect(hal.freeBytes()).toBe(Infinity);
    expect(hal.usedBytes()).toBe(1000);
  });

  it("counts file bytes against the capacity; a write past it lands what fits, then ENOSPC", () => {
    const hal = new MemoryHal({ capacityBytes: 100 });
    hal.mkdir("d");
    hal.writeFile("d/a", new Uint8Array(60));
    expect(hal.freeBytes()).toBe(40);
    const before = hal.stats();
    const error = halErrorOf(() => hal.writeFile("d/b", bytes("x".repeat(50))));
    expect([error.code, error.op, error.path]).toEqual(["ENOSPC", "writeFile", "d/b"]);
    expect(hal.fileSize("d/b")).toBe(40);
    expect(hal.freeBytes()).toBe(0);
    const after = hal.stats();
    expect(after.bytesWritten - before.bytesWritten).toBe(0);
    expect(after.filesCreated - before.filesCreated).toBe(1);
  });

  it("an overwrite counts the new size only; an exact fit succeeds", () => {
    const hal = new MemoryHal({ capacityBytes: 100 });
    hal.writeFile("a", new Uint8Array(90));
    hal.writeFile("a", new Uint8Array(100));
    expect(hal.freeBytes()).toBe(0);
    hal.writeFile("a", new Uint8Array(10));
    expect(hal.freeBytes()).toBe(90);
  });

  it("remove, removeAsync, removeTree and a rename over a file give the bytes back", async () => {
    const hal = new MemoryHal({ capacityBytes: 1000 });
    hal.mkdir("t/u");
    hal.writeFile("a", new Uint8Array(100));
    hal.writeFile("b", new Uint8Array(200));
    hal.writeFile("c", new Uint8Array(50));
    hal.writeFile("t/x", new Uint8Array(30));
    hal.writeFile("t/u/y", new Uint8Array(20));
    expect(hal.freeBytes()).toBe(600);
    hal.remove("a");
    expect(hal.freeBytes()).toBe(700);
    hal.rename("c", "b"); // b's 200 bytes go, c's 50 stay under the new name
    expect(hal.freeBytes()).toBe(900);
    await hal.removeAsync("b");
    expect(hal.freeBytes()).toBe(950);
    hal.removeTree("t");
    expect(hal.freeBytes()).toBe(1000);
    expect(hal.usedBytes()).toBe(0);
  });

  it("can be resized: smaller than what is used leaves no room, larger makes room again", () => {
    const hal = new MemoryHal({ capacityBytes: 100 });
    hal.writeFile("a", new Uint8Array(80));
    hal.capacityBytes = 50;
    expect(hal.freeBytes()).toBe(0);
    expect(codeOf(() => hal.writeFile("b", new Uint8Array(1)))).toBe("ENOSPC");
    expect(hal.fileSize("a")).toBe(80);
    hal.capacityBytes = null;
    expect(hal.freeBytes()).toBe(Infinity);
    hal.writeFile("b", new Uint8Array(1000));
    expect(() => (hal.capacityBytes = -1)).toThrow(RangeError);
    expect(() => new MemoryHal({ capacityBytes: 1.5 })).toThrow(RangeError);
  });

  it("crash() recounts what survived; clone() keeps the capacity and the count", () => {
    const hal = halWithDurableDir();
    hal.capacityBytes = 1000;
    writeFileAtomic(hal, "d/kept", new Uint8Array(300));
    hal.writeFile("d/lost", new Uint8Array(400));
    expect(hal.freeBytes()).toBe(300);
    const copy = hal.clone();
    expect(copy.capacityBytes).toBe(1000);
    expect(copy.freeBytes()).toBe(300);
    hal.crash();
    expect(hal.freeBytes()).toBe(700);
    expect(copy.freeBytes()).toBe(300);
  });

  it("freeBytes() is counted like every other call", () => {
    const hal = new MemoryHal({ capacityBytes: 10 });
    hal.freeBytes();
    hal.freeBytes();
    expect(hal.stats().calls.freeBytes).toBe(2);
  });
});
