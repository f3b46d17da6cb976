// The filesystem-free HAL helpers: Node errno mapping, HalError fields, relative-path checking
// and path arithmetic.

import { describe, expect, it } from "vitest";
import { HalError, halErrorCode, halErrorFrom, parentDir, pathJoin, relativePathCheck } from "../../host/hal/hal.js";
import { codeOf } from "./hal-conformance.js";

function errnoError(code: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: simulated`);
  error.code = code;
  return error;
}

describe("halErrorCode", () => {
  it.each([
    ["ENOENT", "ENOENT"],
    ["ENOSPC", "ENOSPC"],
    ["EDQUOT", "ENOSPC"],
    ["EIO", "EIO"],
    ["EACCES", "EACCES"],
    ["EPERM", "EACCES"],
    ["EROFS", "EACCES"],
    ["EBUSY", "EBUSY"],
    ["EEXIST", "EEXIST"],
    ["ENOTEMPTY", "EEXIST"],
    ["ENOTDIR", "ENOTDIR"],
    ["EISDIR", "EINVAL"],
    ["EINVAL", "EINVAL"],
    ["ENAMETOOLONG", "EINVAL"],
    ["EMFILE", "EIO"],
    ["EAGAIN", "EIO"],
  ])("maps Node %s to %s", (nodeCode, halCode) => {
    expect(halErrorCode(errnoError(nodeCode))).toBe(halCode);
  });

  it("keeps a HalError's code and treats anything without an errno code as EIO", () => {
    expect(halErrorCode(new HalError("EBUSY", "rename", "a"))).toBe("EBUSY");
    expect(halErrorCode(new Error("plain"))).toBe("EIO");
    expect(halErrorCode("text")).toBe("EIO");
    expect(halErrorCode(undefined)).toBe("EIO");
    expect(halErrorCode({ code: 42 })).toBe("EIO");
  });
});

describe("HalError", () => {
  it("carries code, op and path, and names them in the message", () => {
    const error = new HalError("ENOENT", "readFile", "d/f.imx", "no such file");
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("HalError");
    expect([error.code, error.op, error.path]).toEqual(["ENOENT", "readFile", "d/f.imx"]);
    expect(error.message).toBe("ENOENT: readFile 'd/f.imx': no such file");
    expect(new HalError("EIO", "syncDir", ".").message).toBe("EIO: syncDir '.'");
  });

  it("halErrorFrom wraps a Node error with it as cause, and passes a HalError through", () => {
    const cause = errnoError("EDQUOT");
    const wrapped = halErrorFrom(cause, "writeFile", "f");
    expect([wrapped.code, wrapped.op, wrapped.path]).toEqual(["ENOSPC", "writeFile", "f"]);
    expect(wrapped.cause).toBe(cause);
    expect(halErrorFrom(wrapped, "other", "g")).toBe(wrapped);
  });
});

describe("relativePathCheck", () => {
  it.each(["a", "a/b", "a/b/c.imx", ".", ".hidden", "a/..b", "a/b..", "..x/y", "a b/c"])("accepts %j", (p) => {
    expect(() => relativePathCheck("op", p)).not.toThrow();
  });

  it.each(["", "/", "/a", "..", "../a", "a/..", "a/../b", "./a", "a/.", "a//b", "a/", "a\\b", "C:\\a", "a\0"])(
    "rejects %j with EINVAL",
    (p) => {
      expect(codeOf(() => relativePathCheck("op", p))).toBe("EINVAL");
    },
  );
});

describe("parentDir and pathJoin", () => {
  it("work with '.' as the root", () => {
    expect(parentDir("a/b/c.imx")).toBe("a/b");
    expect(parentDir("c.imx")).toBe(".");
    expect(pathJoin(".", "a")).toBe("a");
    expect(pathJoin("a/b", "c")).toBe("a/b/c");
  });
});
