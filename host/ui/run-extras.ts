// What `run --ui` (and the other ways of looking at a single-device run) add to it: a watch on the
// run, the dashboard server with its pace (pause, speed), started once the device is up and
// ended when the run is over.

import type { LogLevel } from "../core/log.js";
import type { DeviceRun, DeviceRunOptions } from "../run/device-run.js";
import type { DrivePace, Speed } from "../run/drive.js";
import { LiveDashboard } from "./live.js";
import { RunWatch } from "./run-watch.js";
import { DashboardServer } from "./server.js";

export interface RunExtrasSettings {
  /** The dashboard's port (0: any free port), or null for no dashboard. */
  uiPort: number | null;
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

  constructor(private readonly settings: RunExtrasSettings) {
    this.watch = new RunWatch(settings.logLevel, settings.runStartMs);
    this.pace = { paused: false, speed: settings.speed };
  }

  /** Whether anything watches the run (else it runs exactly as without extras). */
  get active(): boolean {
    return this.settings.uiPort !== null;
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

  /** The run is over: the pages get their last frame; the server closes. */
  async finish(): Promise<void> {
    if (this.server === null) return;
    const server = this.server;
    this.server = null;
    await server.close();
  }
}
