// The packets file of `imx-memsim run --packets FILE`: every iMatrix upload message the cloud
// acknowledged, one line each in the device-log form
//
//   UPLOAD Message DATA as hex:   [44][02][00][01]…
//
// (`imx-memsim decode` reads it). A message's line is appended and fsynced together with the
// upload log's lines for its records, before the ACK: the packets file first, then the upload
// log, and if the upload log cannot be written the packets file is cut back, so the two hold the
// same acknowledged messages. A line cut short by a kill (no newline at the end) is dropped when
// the file is opened again. A file with any other line is not a packets file this command wrote;
// it is refused (exit 2) and left as it is.

import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { UserError } from "../base/user-error.js";
import { DEVICE_LOG_PREFIX } from "../format/imatrix-wire.js";
import { AppendFile } from "./append-file.js";

export class PacketLogError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = "PacketLogError";
  }
}

export interface PacketLogContents {
  path: string;
  exists: boolean;
  /** Bytes up to and including the last newline. */
  validBytes: number;
  tornBytes: number;
  messages: number;
}

const LINE = /^UPLOAD Message DATA as hex: {3}(?:\[[0-9a-f]{2}\])+$/;

/** Checks a packets file (a missing one is empty; its directory must exist). Changes nothing. */
export function packetLogRead(path: string): PacketLogContents {
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new PacketLogError(`--packets ${path}: the directory ${dir} does not exist`);
  const contents: PacketLogContents = { path, exists: existsSync(path), validBytes: 0, tornBytes: 0, messages: 0 };
  if (!contents.exists) return contents;
  if (!statSync(path).isFile()) throw new PacketLogError(`--packets ${path} is not a file`);
  let text: string;
  try {
    text = readFileSync(path, "latin1");
  } catch (error) {
    throw new PacketLogError(`cannot read the packets file ${path}: ${(error as Error).message}`);
  }
  const lines = text.split("\n");
  const torn = lines.pop() ?? "";
  lines.forEach((line, i) => {
    if (!LINE.test(line))
      throw new PacketLogError(
        `packets file ${path} line ${i + 1}: not a "${DEVICE_LOG_PREFIX.trimEnd()} [XX]…" line: ${line.slice(0, 60)}`,
      );
  });
  contents.messages = lines.length;
  contents.tornBytes = torn.length;
  contents.validBytes = text.length - torn.length;
  return contents;
}

/** Appends message lines to a packets file; every append is on disk (fdatasync) when it returns. */
export class PacketLogWriter {
  messages = 0;
  bytes = 0;

  private constructor(
    readonly path: string,
    private readonly file: AppendFile,
  ) {}

  /** Opens the file read by packetLogRead, dropping a line cut short at its end. */
  static open(contents: PacketLogContents): PacketLogWriter {
    return new PacketLogWriter(contents.path, AppendFile.open(contents));
  }

  /** The size to cut back to with `rollback`. */
  mark(): number {
    return this.file.size;
  }

  /** Appends whole lines and syncs them. On failure the file is cut back to where it was. */
  append(text: string, messages: number, wireBytes: number): void {
    if (text === "") return;
    this.file.append(Buffer.from(text, "latin1"));
    this.messages += messages;
    this.bytes += wireBytes;
  }

  /** Takes back what was appended since `mark` (the upload log could not follow). */
  rollback(mark: number, messages: number, wireBytes: number): void {
    if (mark === this.file.size) return;
    this.file.cut(mark);
    this.messages -= messages;
    this.bytes -= wireBytes;
  }

  close(): void {
    this.file.close();
  }
}
