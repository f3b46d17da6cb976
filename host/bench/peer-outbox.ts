// The peer-outbox benchmark: the same upload iteration through SQLite (better-sqlite3, WAL,
// synchronous = FULL: what a Node developer would otherwise pick as a durable outbox) and through
// imx-memsim with fsync, in the same run. One iteration: 600 records inserted in one transaction,
// read back in order, deleted in one transaction; "ack" is that durable delete on the SQLite side
// and, on imx-memsim's, the time from the last ACK until cleanup is complete (cleanup-core.ts).
//
// better-sqlite3 builds from source, so it lives outside the main install, in bench/peers/ with its
// own package.json and lock: `npm --prefix bench/peers ci`. Without it the benchmark refuses to
// start with PeersMissingError, which says how to install it.

import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { packageRootDir } from "../boards.js";
import { UsageError } from "../base/user-error.js";
import { tempDirMake } from "./common.js";

/** Where `npm --prefix bench/peers ci` installs the peers, under the package root. */
export const PEERS_DIR = path.join("bench", "peers");
export const PEERS_INSTALL = `npm --prefix ${PEERS_DIR} ci`;

/** The peers are not installed: one line that says how to install them (exit 2). */
export class PeersMissingError extends UsageError {
  constructor(dir: string) {
    super(
      `bench --peers needs better-sqlite3 in ${dir}: install it with \`${PEERS_INSTALL}\` (builds from source, about 2 minutes)`,
    );
    this.name = "PeersMissingError";
  }
}

// The part of better-sqlite3's API used here (it ships no types).
interface Statement {
  run(...params: number[]): unknown;
  all(...params: number[]): unknown[];
}
interface Database {
  pragma(text: string): unknown;
  exec(sql: string): void;
  prepare(sql: string): Statement;
  transaction(fn: () => void): () => void;
  close(): void;
}
type DatabaseConstructor = new (file: string) => Database;

/** better-sqlite3 from `dir` (default: bench/peers under the package root), or PeersMissingError. */
export function sqliteLoad(dir = path.join(packageRootDir(), PEERS_DIR)): DatabaseConstructor {
  const manifest = path.join(dir, "package.json");
  if (!fs.existsSync(path.join(dir, "node_modules", "better-sqlite3"))) throw new PeersMissingError(dir);
  try {
    const Sqlite = createRequire(manifest)("better-sqlite3") as DatabaseConstructor;
    // The native binding loads only when a database opens: an install whose build did not finish fails here.
    new Sqlite(":memory:").close();
    return Sqlite;
  } catch {
    throw new PeersMissingError(dir);
  }
}

export interface SqliteSamples {
  iterationSamplesMs: number[];
  ackSamplesMs: number[];
}

/** `iterations` (after `warmup`) outbox iterations of `records` records through SQLite on the filesystem. */
export function measureSqliteOutbox(
  Sqlite: DatabaseConstructor,
  records: number,
  iterations: number,
  warmup: number,
): SqliteSamples {
  const dir = tempDirMake("peer-sqlite");
  const db = new Sqlite(path.join(dir, "outbox.db"));
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.exec("CREATE TABLE outbox (seq INTEGER PRIMARY KEY, source INTEGER, sensor INTEGER, value INTEGER, t INTEGER)");
    const insert = db.prepare("INSERT INTO outbox (seq, source, sensor, value, t) VALUES (?, ?, ?, ?, ?)");
    const select = db.prepare("SELECT seq, value, t FROM outbox WHERE seq >= ? ORDER BY seq LIMIT ?");
    const remove = db.prepare("DELETE FROM outbox WHERE seq <= ?");
    const samples: SqliteSamples = { iterationSamplesMs: [], ackSamplesMs: [] };
    for (let i = 0; i < warmup + iterations; i++) {
      const first = i * records;
      const began = performance.now();
      db.transaction(() => {
        for (let k = 0; k < records; k++) insert.run(first + k, 1, 1, (first + k) % 1000, (first + k) * 1000);
      })();
      const rows = select.all(first, records);
      if (rows.length !== records) throw new Error(`SQLite read back ${rows.length} of ${records} records`);
      const ackBegan = performance.now();
      db.transaction(() => {
        remove.run(first + records - 1);
      })();
      const ended = performance.now();
      if (i < warmup) continue;
      samples.iterationSamplesMs.push(ended - began);
      samples.ackSamplesMs.push(ended - ackBegan);
    }
    return samples;
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
