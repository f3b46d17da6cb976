// How `imx-memsim verify` shows its report: one line per finding, what boot recovery adopts, then
// the counts. The `--json` form is the VerifyReport itself (schemas/verify.schema.json).

import type { Finding, VerifyReport } from "./verify.js";

const plural = (n: number, word: string): string => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;

/** What boot recovery does about a finding, or what --repair did. */
function actionText(f: Finding): string {
  if (f.code === "lock.stale")
    return f.repaired ? "taken over for the repair, then released" : "the next run takes it over";
  if (f.action === "quarantine") {
    if (f.repaired) return `quarantined to ${f.to ?? "?"}`;
    return f.to === null
      ? "boot recovery could not quarantine it: it stays in place"
      : `boot recovery quarantines it to ${f.to}`;
  }
  if (f.action === "move") return f.repaired ? `moved to ${f.to ?? "?"}` : `boot recovery moves it to ${f.to ?? "?"}`;
  if (f.action === "remove") return f.repaired ? "removed" : "boot recovery removes it";
  return "";
}

function findingLine(f: Finding): string {
  const tag = f.repaired ? "repaired" : f.severity;
  const action = actionText(f);
  return `  ${tag.padEnd(8)} ${f.path}: ${f.message}${action === "" ? "" : `; ${action}`}`;
}

export function verifyReportText(report: VerifyReport): string {
  const lines: string[] = [];
  const kind = report.kind === "fleet" ? "fleet storage" : "storage";
  lines.push(`verify ${kind} ${report.storage} (board ${report.board}, ${report.mode})`);
  for (const f of report.findings) lines.push(findingLine(f));
  const a = report.adopted;
  lines.push(
    `boot recovery adopts ${plural(a.files, "file")} with ${plural(a.records, "record")} in ${plural(a.streams, "stream")}` +
      (a.cleanupQueued > 0 ? `; ${plural(a.cleanupQueued, "acknowledged file")} queued for cleanup` : ""),
  );
  const c = report.counts;
  if (report.remaining === null) {
    const repairable =
      c.repairable > 0 ? ` (${c.repairable} repairable: verify --repair does what boot recovery would)` : "";
    lines.push(
      c.problems === 0
        ? `clean: no problems, ${plural(c.notes, "note")}`
        : `${plural(c.problems, "problem")}${repairable}, ${plural(c.notes, "note")}`,
    );
  } else {
    for (const f of report.remaining)
      if (f.severity === "problem") lines.push(findingLine(f).replace("problem ", "left    "));
    lines.push(
      `${plural(c.problems, "problem")} found, ${c.repaired} repaired; ` +
        (report.clean ? "the storage is clean now" : `${plural(c.remainingProblems, "problem")} left`) +
        `, ${plural(c.notes, "note")}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
