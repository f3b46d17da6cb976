// The dashboard's web server: node:http on 127.0.0.1 only, serving the page (page.ts), uPlot from
// node_modules (so it works offline), a Server-Sent Events stream of frames (frame.ts) and, for a
// live run, POST /control (pause, resume, speed). Requests whose Host is not this address are
// refused (a page on another site cannot drive the run through DNS rebinding).

import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import type { DashboardControl, DashboardFrame, DashboardHello, DashboardPoint } from "./frame.js";
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from "./page.js";

export const DASHBOARD_HOST = "127.0.0.1";
/** Real time between two frames sent to the page. */
export const FRAME_EVERY_MS = 250;
const CONTROL_BODY_BYTES_MAX = 1024;
const SPEED_MAX = 1e9;

export interface DashboardSource {
  hello(): DashboardHello;
  /** The points so far (the page draws them when it opens). */
  points(): DashboardPoint[];
  /** The frame of this moment (a live run builds a new one each call). */
  frame(): DashboardFrame;
  /** Live runs only: pause, resume, speed. */
  control?(request: DashboardControl): void;
}

interface Asset {
  type: string;
  body: string | Buffer;
}

function uplotAssets(): Record<string, Asset> {
  const dist = dirname(createRequire(import.meta.url).resolve("uplot"));
  return {
    "/uplot.js": { type: "text/javascript", body: readFileSync(join(dist, "uPlot.iife.min.js")) },
    "/uplot.css": { type: "text/css", body: readFileSync(join(dist, "uPlot.min.css")) },
  };
}

function sseSend(response: ServerResponse, event: string, data: unknown): void {
  response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Parses a control request; null when it is not one. */
export function controlParse(text: string): DashboardControl | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const { action, speed } = value as { action?: unknown; speed?: unknown };
  if (action === "pause" || action === "resume") return { action };
  if (action !== "speed") return null;
  if (speed === "max") return { action, speed };
  if (typeof speed === "number" && Number.isFinite(speed) && speed > 0 && speed <= SPEED_MAX) return { action, speed };
  return null;
}

export class DashboardServer {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  private ended = false;
  private lastFrame: DashboardFrame | null = null;

  private constructor(
    private readonly server: Server,
    private readonly source: DashboardSource,
    readonly port: number,
    private readonly assets: Record<string, Asset>,
  ) {}

  /** Listens on 127.0.0.1:`port` (0: any free port) and starts sending frames. */
  static async start(port: number, source: DashboardSource, options: { live: boolean }): Promise<DashboardServer> {
    const assets: Record<string, Asset> = {
      "/": { type: "text/html; charset=utf-8", body: PAGE_HTML },
      "/app.js": { type: "text/javascript; charset=utf-8", body: PAGE_JS },
      "/app.css": { type: "text/css; charset=utf-8", body: PAGE_CSS },
      ...uplotAssets(),
    };
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, DASHBOARD_HOST, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const bound = (server.address() as AddressInfo).port;
    const dashboard = new DashboardServer(server, source, bound, assets);
    server.on("request", (request, response) => dashboard.handle(request, response));
    if (options.live) {
      dashboard.timer = setInterval(() => dashboard.broadcast(), FRAME_EVERY_MS);
      dashboard.timer.unref();
    }
    return dashboard;
  }

  get url(): string {
    return `http://${DASHBOARD_HOST}:${this.port}/`;
  }

  /** Sends the frame of this moment to every page. */
  broadcast(): void {
    if (this.ended) return;
    this.lastFrame = this.source.frame();
    for (const client of this.clients) sseSend(client, "frame", this.lastFrame);
  }

  /** The run is over: a last frame, then `end` (the streams close); the pages stay as they are. */
  end(): void {
    if (this.ended) return;
    this.broadcast();
    this.ended = true;
    if (this.timer !== null) clearInterval(this.timer);
    for (const client of this.clients) {
      sseSend(client, "end", {});
      client.end();
    }
    this.clients.clear();
  }

  async close(): Promise<void> {
    this.end();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const host = request.headers.host ?? "";
    if (host !== `${DASHBOARD_HOST}:${this.port}` && host !== `localhost:${this.port}`) {
      response
        .writeHead(403, { "Content-Type": "text/plain" })
        .end("forbidden: this dashboard answers 127.0.0.1 only\n");
      return;
    }
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    if (request.method === "GET" && path === "/events") {
      this.eventsOpen(response);
      return;
    }
    if (request.method === "POST" && path === "/control") {
      this.controlHandle(request, response);
      return;
    }
    const asset = request.method === "GET" ? this.assets[path] : undefined;
    if (asset === undefined) {
      response.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
      return;
    }
    response.writeHead(200, { "Content-Type": asset.type, "Cache-Control": "no-cache" }).end(asset.body);
  }

  private eventsOpen(response: ServerResponse): void {
    response.writeHead(200, {
      "Content-Type": "text/event-stream",
      "Cache-Control": "no-cache",
      Connection: "keep-alive",
    });
    sseSend(response, "hello", this.source.hello());
    sseSend(response, "history", this.source.points());
    const frame = this.lastFrame ?? this.source.frame();
    this.lastFrame = frame;
    sseSend(response, "frame", frame);
    if (this.ended) {
      sseSend(response, "end", {});
      response.end();
      return;
    }
    this.clients.add(response);
    response.on("close", () => this.clients.delete(response));
  }

  private controlHandle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= CONTROL_BODY_BYTES_MAX) chunks.push(chunk);
    });
    request.on("end", () => {
      const control = bytes <= CONTROL_BODY_BYTES_MAX ? controlParse(Buffer.concat(chunks).toString("utf8")) : null;
      if (this.source.control === undefined || this.ended) {
        response.writeHead(409, { "Content-Type": "text/plain" }).end("this dashboard has no run to control\n");
        return;
      }
      if (control === null) {
        response
          .writeHead(400, { "Content-Type": "text/plain" })
          .end('expected {"action":"pause"|"resume"} or {"action":"speed","speed":N|"max"}\n');
        return;
      }
      this.source.control(control);
      this.broadcast();
      response.writeHead(204).end();
    });
  }
}
