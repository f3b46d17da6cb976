// Shows the command line's behaviour through its exported functions: the boards table and JSON,
// flashing an image, the program's help and version, the demo, and the exit codes and
// messages of runCli for bad input (2) and unexpected errors (1).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommanderError } from "commander";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { BoardError, boardsDir, DEFAULT_BOARD_NAME, listBoards, loadBoard } from "../../host/boards.js";
import { boardsJson, boardsTable, bytesHuman } from "../../host/cli/boards-command.js";
import { UsageError } from "../../host/base/user-error.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, errorReport, runCli } from "../../host/cli/errors.js";
import { flashBoard, flashReport } from "../../host/cli/flash-command.js";
import { packageVersion, programBuild } from "../../host/cli/main.js";
import { ConfigImageError, decodeConfigImage, encodeConfigImage } from "../../host/config-image.js";
import { E_CONFIG_MAGIC } from "../../host/core/abi.generated.js";

const dir = mkdtempSync(join(tmpdir(), "imx-memsim-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

function captured(): { text: () => string; write: (text: string) => void } {
  let buffer = "";
  return { text: () => buffer, write: (text: string) => void (buffer += text) };
}

function stdoutCapture(): () => string {
  let buffer = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    buffer += String(chunk);
    return true;
  });
  return () => buffer;
}

describe("boards", () => {
  it("prints a table with a header and one row per board", () => {
    const boards = listBoards();
    const lines = boardsTable(boards).trimEnd().split("\n");
    expect(lines).toHaveLength(boards.length + 1);
    expect(lines[0]).toMatch(
      /^board\s+title\s+device RAM\s+memory RAM bytes\s+sector bytes\s+sectors\s+streams max\s+disk tier\s+policy$/,
    );
    const fc1 = lines.find((line) => line.startsWith("fc1-imx6 "));
    expect(fc1).toMatch(/512 MiB\s+1048576\s+32\s+2048\s+512\s+256 MiB quota\s+batched$/);
    expect(lines.find((line) => line.startsWith("nrf52840 "))).toMatch(/\snone\s/);
  });

  it("prints JSON that reads back as the boards", () => {
    const boards = listBoards();
    expect(JSON.parse(boardsJson(boards))).toEqual(boards);
  });

  it("shows bytes in the largest exact binary unit", () => {
    expect(bytesHuman(536870912)).toBe("512 MiB");
    expect(bytesHuman(532480)).toBe("520 KiB");
    expect(bytesHuman(96)).toBe("96 bytes");
    expect(bytesHuman(1536)).toBe("1536 bytes");
  });

  it("runs as a command, with --json", async () => {
    const output = stdoutCapture();
    await programBuild().parseAsync(["boards", "--json"], { from: "user" });
    expect((JSON.parse(output()) as Array<{ name: string }>).map((board) => board.name)).toEqual(
      listBoards().map((board) => board.name),
    );
  });
});

describe("flash", () => {
  it("writes the default board's image and reports what it wrote", () => {
    const file = join(dir, "default.img");
    const result = flashBoard(DEFAULT_BOARD_NAME, file);
    const written = new Uint8Array(readFileSync(file));
    expect(written).toEqual(encodeConfigImage(loadBoard(DEFAULT_BOARD_NAME)));
    expect(decodeConfigImage(written).name).toBe(DEFAULT_BOARD_NAME);
    const report = flashReport(result);
    expect(report).toContain(`wrote ${file}: 108-byte config image for board fc1-imx6`);
    expect(report).toContain("2048 sectors × 32 bytes");
    expect(report).toContain("256 MiB quota");
    expect(report).toContain("2 files (8256 bytes) written");
  });

  it("accepts a path to a board JSON file", () => {
    const boardFile = join(dir, "my-board.json");
    const raw = JSON.parse(readFileSync(join(boardsDir(), "tiny.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(boardFile, JSON.stringify({ ...raw, name: "my-board" }));
    const result = flashBoard(boardFile, join(dir, "my-board.img"));
    expect(result.config.name).toBe("my-board");
    expect(flashReport(result)).toContain("disk tier  2 KiB quota");
  });

  it("says so for a board without a disk tier", () => {
    expect(flashReport(flashBoard("rp2040", join(dir, "rp2040.img")))).toContain("disk tier  none");
  });

  it("refuses an unknown board and an output it cannot write", () => {
    expect(() => flashBoard("no-such-board", join(dir, "x.img"))).toThrow(BoardError);
    expect(() => flashBoard("tiny", join(dir, "missing-dir", "x.img"))).toThrow(UsageError);
  });

  it("runs as a command with --board and -o", async () => {
    const output = stdoutCapture();
    const file = join(dir, "command.img");
    await programBuild().parseAsync(["flash", "--board", "tiny", "-o", file], { from: "user" });
    expect(output()).toContain(`wrote ${file}`);
    expect(decodeConfigImage(new Uint8Array(readFileSync(file))).name).toBe("tiny");
  });
});

describe("program", () => {
  it("prints the package version", async () => {
    const out = captured();
    const run = programBuild({ writeOut: out.write }).parseAsync(["--version"], { from: "user" });
    await expect(run).rejects.toMatchObject({ code: "commander.version", exitCode: 0 });
    expect(out.text()).toBe(`${packageVersion()}\n`);
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("lists its commands in --help", async () => {
    const out = captured();
    const run = programBuild({ writeOut: out.write }).parseAsync(["--help"], { from: "user" });
    await expect(run).rejects.toMatchObject({ exitCode: 0 });
    for (const command of ["boards", "flash", "demo"]) expect(out.text()).toContain(command);
  });

  it("reports an unknown command as a usage error", async () => {
    const err = captured();
    const exitCode = await runCli(() => programBuild({ writeErr: err.write }).parseAsync(["bogus"], { from: "user" }), {
      stderrWrite: err.write,
    });
    expect(exitCode).toBe(EXIT_USAGE);
    expect(err.text()).toMatch(/^imx-memsim: unknown command 'bogus'/);
  });

  it("reports a missing required option as a usage error", async () => {
    const err = captured();
    const exitCode = await runCli(() => programBuild({ writeErr: err.write }).parseAsync(["flash"], { from: "user" }), {
      stderrWrite: err.write,
    });
    expect(exitCode).toBe(EXIT_USAGE);
    expect(err.text()).toContain("imx-memsim: required option '-o, --output <file>' not specified");
  });

  it("runs the demo on a board and exits 0 when every record came back", async () => {
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const exitCode = await runCli(() =>
      programBuild().parseAsync(["demo", "--board", "tiny", "--storage", dir, "--policy", "lazy", "--records", "300"], {
        from: "user",
      }),
    );
    expect(exitCode).toBe(EXIT_OK);
    expect(stdout.mock.calls.map((call) => String(call[0])).join("")).toMatch(/result {4}PASS/);
    stdout.mockRestore();
  });

  it("refuses a bad demo flag with exit 2", async () => {
    const err = captured();
    const exitCode = await runCli(
      () => programBuild({ writeErr: err.write }).parseAsync(["demo", "--policy", "sometimes"], { from: "user" }),
      { stderrWrite: err.write },
    );
    expect(exitCode).toBe(EXIT_USAGE);
    expect(err.text()).toContain("--policy must be immediate, batched or lazy");
  });
});

describe("runCli", () => {
  it("exits 0 when the body succeeds", async () => {
    expect(await runCli(() => undefined)).toBe(EXIT_OK);
  });

  it.each<[string, Error]>([
    [
      "a board error",
      new BoardError("boards/x.json", [{ path: "memory.sectorBytes", rule: "must be a multiple of 4 (got 30)" }]),
    ],
    ["a config image error", new ConfigImageError(E_CONFIG_MAGIC, "magic is 0x00000000")],
    ["a usage error", new UsageError("--board needs a value")],
  ])("prints %s as one line and exits 2", async (_case, error) => {
    const err = captured();
    const exitCode = await runCli(
      () => {
        throw error;
      },
      { stderrWrite: err.write, verbose: true },
    );
    expect(exitCode).toBe(EXIT_USAGE);
    expect(process.exitCode).toBe(EXIT_USAGE);
    expect(err.text()).toBe(`imx-memsim: ${error.message}\n`);
  });

  it("exits 1 for an unexpected error and shows the stack only when verbose", () => {
    const quiet = captured();
    const failure = new Error("disk caught fire");
    expect(errorReport(failure, { stderrWrite: quiet.write, verbose: false })).toBe(EXIT_FAILURE);
    expect(quiet.text()).toBe(
      "imx-memsim: disk caught fire\nimx-memsim: (run with --verbose or DEBUG=1 for the stack)\n",
    );
    const loud = captured();
    expect(errorReport(failure, { stderrWrite: loud.write, verbose: true })).toBe(EXIT_FAILURE);
    expect(loud.text()).toContain("at ");
  });

  it("passes commander's exit codes through: 0 for help, 2 for usage", () => {
    const silent = captured();
    expect(
      errorReport(new CommanderError(0, "commander.helpDisplayed", "(outputHelp)"), { stderrWrite: silent.write }),
    ).toBe(EXIT_OK);
    expect(
      errorReport(new CommanderError(1, "commander.unknownOption", "error: unknown option"), {
        stderrWrite: silent.write,
      }),
    ).toBe(EXIT_USAGE);
    expect(silent.text()).toBe("");
  });
});
