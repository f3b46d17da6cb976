// What `run --ui`, `--perfetto` and `--ram-dump` add to a single-device run: a watch on the run,
// the dashboard server with its pace (pause, speed), started once the device is up and ended when
// the run is over; the Perfetto trace, written at the stop; and the device's RAM after the stop.

import { writeFileSync } from "node:fs";
import type { LogLevel } from "../core/log.js";
import type { DeviceRun, DeviceRunOptions } from "../run/device-run.js";
import type { DrivePace, Speed } from "../run/drive.js";
import { LiveDashboard } from "./live.js";
import { PerfettoTrace } from "./perfetto.js";
import { RunWatch } from "./run-watch.js";
import { DashboardServer } from "./server.js";

export interface RunExtrasSettings {
  /** The dashboard's port (0: any free port), or null for no dashboard. */
  uiPort: number | null;
  /** The --perfetto file, or null. */
  perfettoPath: string | null;
  /** The --ram-dump file, or null. */
  ramDumpPath: string | null;
  /** Simulated time between two Perfetto counter samples. */
  counterEveryMs: number;
  logLevel: LogLevel;
  speed: Speed;
  runStartMs: number;
  /** Where the dashboard's address is printed (always, even with --quiet). */
  note: (text: string) => void;
}

export class RunExtras {
  readonly watch: RunWatch;
  readonly pace: DrivePace;
  private server: DashboardServer | null = null;
  private readonly perfetto: PerfettoTrace | null;

  constructor(private readonly settings: RunExtrasSettings) {
    this.watch = new RunWatch(settings.logLevel, settings.runStartMs);
    this.pace = { paused: false, speed: settings.speed };
    this.perfetto =
      settings.perfettoPath === null
        ? null
        : new PerfettoTrace(settings.perfettoPath, settings.runStartMs, settings.counterEveryMs);
    if (this.perfetto !== null) this.watch.listen(this.perfetto);
  }

  /** Whether anything watches the run (else it runs exactly as without extras). */
  get active(): boolean {
    return this.settings.uiPort !== null || this.perfetto !== null;
  }

  /** The options DeviceRun.start needs for the watch. */
  runOptions(): DeviceRunOptions {
    return this.active ? { logger: this.watch.logger, observer: this.watch } : {};
  }

  /** The device is up: start the dashboard. */
  async started(run: DeviceRun): Promise<void> {
    this.watch.attach(run);
    if (this.settings.uiPort === null) return;
    const dashboard = new LiveDashboard(run, this.pace);
    this.watch.listen(dashboard);
    this.server = await DashboardServer.start(this.settings.uiPort, dashboard, { live: true });
    this.settings.note(`dashboard: ${this.server.url}\n`);
  }

  /** After the graceful stop: writes the Perfetto trace and the RAM dump (deletions in flight settled first). */
  async stopped(run: DeviceRun): Promise<void> {
    this.perfetto?.write(run.nowMs);
    if (this.settings.ramDumpPath === null) return;
    await run.device.settle();
    writeFileSync(this.settings.ramDumpPath, run.device.snapshot());
  }

  /** The run is over: the pages get their last frame; the server closes. */
  async finish(): Promise<void> {
    if (this.server === null) return;
    const server = this.server;
    this.server = null;
    await server.close();
  }
}
