// FaultyHal (host/hal/faulty.ts) and the simulator's PRNG (host/base/prng.ts). With no faults a
// FaultyHal passes the shared HAL conformance suite; each fault does what its documentation says
// (nothing lands on an I/O error, a prefix on a torn write, zeros in a silent tail, ENOSPC past the
// budget or the capacity, whose bytes a removal gives back); a power cut at the N-th operation
// drops what was not fsynced and makes every later operation fail, and an asynchronous delete
// started before the cut never lands. The same seed gives the same faults.

import { describe, expect, it } from "vitest";
import { mkdirDurable, writeFileAtomic } from "../../host/hal/atomic.js";
import { CrashSignal, FAULT_RATE_SCALE, FaultyHal } from "../../host/hal/faulty.js";
import { HalError } from "../../host/hal/hal.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { Prng } from "../../host/base/prng.js";
import { bytes, codeOf, halConformanceSuite, text } from "../hal/hal-conformance.js";

halConformanceSuite("FaultyHal without faults", () => ({
  hal: new FaultyHal(new MemoryHal(), { seed: 1 }),
  cleanup: () => {},
}));

function durableDir(): MemoryHal {
  const inner = new MemoryHal();
  mkdirDurable(inner, "d");
  return inner;
}

describe("FaultyHal faults", () => {
  it("an I/O error on write lands nothing", () => {
    const inner = durableDir();
    const hal = new FaultyHal(inner, { seed: 1, rates: { write: FAULT_RATE_SCALE } });
    expect(codeOf(() => hal.writeFile("d/f", bytes("data")))).toBe("EIO");
    expect(inner.exists("d/f")).toBe(false);
    expect(hal.injected["io-error"]).toBe(1);
  });

  it("a torn write lands a strict prefix, then throws EIO", () => {
    const inner = durableDir();
    const hal = new FaultyHal(inner, { seed: 2, rates: { tornWrite: FAULT_RATE_SCALE } });
    const data = bytes("0123456789abcdef");
    expect(codeOf(() => hal.writeFile("d/f", data))).toBe("EIO");
    const landed = inner.readFile("d/f");
    expect(landed.length).toBeLessThan(data.length);
    expect(text(landed)).toBe(text(data.subarray(0, landed.length)));
  });

  it("a zero-filled tail succeeds silently, and the damage follows the file through a rename", () => {
    const inner = durableDir();
    const hal = new FaultyHal(inner, { seed: 3, rates: { zeroTail: FAULT_RATE_SCALE } });
    const data = bytes("0123456789abcdef");
    writeFileAtomic(hal, "d/f", data);
    const landed = inner.readFile("d/f");
    expect(landed.length).toBe(data.length);
    expect(landed.at(-1)).toBe(0);
    expect([...hal.damagedFiles().keys()]).toEqual(["d/f"]);
    expect(hal.damagedFiles().get("d/f")).toEqual(data);
    hal.enabled = false;
    writeFileAtomic(hal, "d/f", data);
    expect(hal.damagedFiles().size).toBe(0);
  });

  it("the damage filter limits torn writes and zero tails to the paths it accepts", () => {
    const inner = durableDir();
    const hal = new FaultyHal(inner, {
      seed: 4,
      rates: { zeroTail: FAULT_RATE_SCALE },
      damageFilter: (p) => p.endsWith(".imx"),
    });
    hal.writeFile("d/positions", bytes("abc"));
    expect(text(inner.readFile("d/positions"))).toBe("abc");
    hal.writeFile("d/x.imx", bytes("abc"));
    expect(hal.injected["zero-tail"]).toBe(1);
  });

  it("disk full: the bytes that fit land, then ENOSPC", () => {
    const inner = durableDir();
    const hal = new FaultyHal(inner, { seed: 5, diskBytesBudget: 10 });
    hal.writeFile("d/a", bytes("123456"));
    expect(codeOf(() => hal.writeFile("d/b", bytes("abcdef")))).toBe("ENOSPC");
    expect(text(inner.readFile("d/b"))).toBe("abcd");
    expect(hal.injected.enospc).toBe(1);
  });

  it("disk full: freeBytes() reports what is left of the budget, or the wrapped Hal's figure if smaller", () => {
    const inner = durableDir();
    const hal = new FaultyHal(inner, { seed: 5, diskBytesBudget: 10 });
    expect(hal.freeBytes()).toBe(10);
    hal.writeFile("d/a", bytes("123456"));
    expect(hal.freeBytes()).toBe(4);
    codeOf(() => hal.writeFile("d/b", bytes("abcdef")));
    expect(hal.freeBytes()).toBe(4); // the failed write counts nothing against the budget
    inner.capacityBytes = inner.usedBytes() + 2;
    expect(hal.freeBytes()).toBe(2);
    expect(new FaultyHal(durableDir(), { seed: 5 }).freeBytes()).toBe(Infinity);
    expect(hal.stats().calls.freeBytes).toBe(4);
  });

  it("a small filesystem: the files' bytes count (appends too), a removal or an overwrite gives them back, a resize takes effect", async () => {
    const inner = durableDir();
    inner.writeFile("d/old", bytes("1234")); // already there: counted when first needed
    const hal = new FaultyHal(inner, { seed: 5, capacityBytes: 10 });
    expect(hal.freeBytes()).toBe(6);
    hal.writeFile("d/a", bytes("abcde"));
    expect(hal.freeBytes()).toBe(1);
    expect(codeOf(() => hal.writeFile("d/b", bytes("xyz")))).toBe("ENOSPC");
    expect(text(inner.readFile("d/b"))).toBe("x"); // what fitted landed
    expect(hal.freeBytes()).toBe(0);
    hal.writeFile("d/a", bytes("ab")); // an overwrite counts the new size only
    expect(hal.freeBytes()).toBe(3);
    hal.rename("d/b", "d/old"); // the replaced file's bytes come back
    expect(hal.usedBytes()).toBe(3);
    hal.remove("d/a");
    await hal.removeAsync("d/old");
    expect(hal.freeBytes()).toBe(10);
    hal.writeFile("d/c", bytes("0123456789"));
    expect(codeOf(() => hal.writeFile("d/e", bytes("z")))).toBe("ENOSPC");
    hal.capacityBytes = 20; // enlarged
    hal.writeFile("d/e", bytes("z"));
    expect(hal.freeBytes()).toBe(9);
    hal.appendFile("d/e", bytes("12345678"));
    expect(codeOf(() => hal.appendFile("d/e", bytes("ab")))).toBe("ENOSPC");
    expect(text(inner.readFile("d/e"))).toBe("z12345678a");
    hal.writeFile("d/e", bytes("z"));
    expect(hal.freeBytes()).toBe(9);
    hal.mkdir("t/u");
    hal.writeFile("t/u/f", bytes("1234"));
    hal.removeTree("t");
    expect(hal.usedBytes()).toBe(inner.usedBytes());
    expect(hal.usedBytes()).toBe(11);
    expect(hal.injected.enospc).toBe(3);
  });

  it("delete errors are EIO, EBUSY or EACCES and leave the file", () => {
    const inner = durableDir();
    const hal = new FaultyHal(inner, { seed: 6, rates: { remove: FAULT_RATE_SCALE } });
    inner.writeFile("d/f", bytes("x"));
    const codes = new Set<string>();
    for (let i = 0; i < 40; i++) codes.add(codeOf(() => hal.remove("d/f")));
    expect([...codes].sort()).toEqual(["EACCES", "EBUSY", "EIO"]);
    expect(inner.exists("d/f")).toBe(true);
  });

  it("a scripted fault fails exactly the operations it names", () => {
    const inner = durableDir();
    const hal = new FaultyHal(inner, {
      seed: 7,
      failWhen: (op, path) => (op === "syncDir" && path === "d" ? "EIO" : null),
    });
    expect(codeOf(() => writeFileAtomic(hal, "d/f", bytes("x")))).toBe("EIO");
    expect(inner.exists("d/f")).toBe(true); // renamed before the failing directory fsync
    expect(inner.isDurable("d/f")).toBe(false);
  });

  it("the same seed injects the same faults", () => {
    const run = (seed: number): string[] => {
      const hal = new FaultyHal(durableDir(), { seed, rates: { write: 300_000, syncFile: 300_000 } });
      const outcome: string[] = [];
      for (let i = 0; i < 50; i++) {
        try {
          writeFileAtomic(hal, `d/f${i}`, bytes("data"));
          outcome.push("ok");
        } catch (e) {
          outcome.push((e as HalError).op);
        }
      }
      return outcome;
    };
    expect(run(11)).toEqual(run(11));
    expect(run(11)).not.toEqual(run(12));
  });
});

describe("FaultyHal power cut at the N-th operation", () => {
  it("drops what was not fsynced, kills every later operation, and signals at the checkpoint", () => {
    const inner = durableDir();
    const hal = new FaultyHal(inner, { seed: 1, crashAtOp: 6 });
    writeFileAtomic(hal, "d/a", bytes("a")); // operations 1-4
    hal.writeFile("d/b", bytes("b")); // 5: not synced
    expect(() => hal.checkpoint()).not.toThrow();
    expect(codeOf(() => hal.syncFile("d/b"))).toBe("EIO"); // 6: the cut, before it runs
    expect(hal.crashed).toBe(true);
    expect(codeOf(() => hal.readFile("d/a"))).toBe("EIO");
    expect(() => hal.checkpoint()).toThrow(CrashSignal);
    expect(text(inner.readFile("d/a"))).toBe("a");
    expect(inner.exists("d/b")).toBe(false);
    expect(hal.injected.crash).toBe(1);
  });

  it("an asynchronous delete started before the cut never lands", async () => {
    const inner = durableDir();
    writeFileAtomic(inner, "d/a", bytes("a"));
    const hal = new FaultyHal(inner, { seed: 1 });
    const pending = hal.removeAsync("d/a");
    hal.crashNow();
    await expect(pending).rejects.toBeInstanceOf(HalError);
    expect(inner.exists("d/a")).toBe(true);
  });

  it("a retired HAL fails every operation without cutting the power", () => {
    const inner = durableDir();
    const hal = new FaultyHal(inner, { seed: 1 });
    hal.writeFile("d/x", bytes("x"));
    hal.retire();
    expect(codeOf(() => hal.exists("d/x"))).toBe("EIO");
    expect(hal.crashed).toBe(false);
    expect(inner.exists("d/x")).toBe(true);
  });
});

describe("Prng", () => {
  it("replays from its seed and draws integers in range", () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const drawn = Array.from({ length: 1000 }, () => a.below(7));
    expect(Array.from({ length: 1000 }, () => b.below(7))).toEqual(drawn);
    expect(drawn.every((x) => Number.isInteger(x) && x >= 0 && x < 7)).toBe(true);
    expect(new Set(drawn).size).toBe(7);
    const c = new Prng(1);
    for (let i = 0; i < 1000; i++) {
      const x = c.between(-3, 3);
      expect(x >= -3 && x <= 3).toBe(true);
    }
    expect(new Prng(1).next()).not.toBe(new Prng(2).next());
  });

  it("chance(n, d) comes true about n times in d", () => {
    const p = new Prng(9);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (p.chance(1, 4)) hits++;
    expect(hits).toBeGreaterThan(2300);
    expect(hits).toBeLessThan(2700);
    expect(new Prng(1).chance(0, 5)).toBe(false);
    expect(new Prng(1).chance(5, 5)).toBe(true);
  });

  it("weighted never picks a zero weight", () => {
    const p = new Prng(3);
    for (let i = 0; i < 1000; i++) expect([0, 2]).toContain(p.weighted([1, 0, 3]));
  });
});
