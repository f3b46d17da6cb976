// A reader that stops early (`imx-memsim test --help | head -1`, a closed terminal) ends the command
// quietly, as it ends a C program by SIGPIPE: no stack, no message, the exit status the command had
// reached so far (0 when it had not failed yet). Node ignores SIGPIPE and reports the closed pipe as
// an EPIPE 'error' event on the stream instead, which would otherwise crash the process with a stack.

/** Installs the handlers on stdout and stderr (once per process; the CLI entry calls it). */
export function closedPipeQuietExit(): void {
  const exitQuietly = (error: NodeJS.ErrnoException): void => {
    if (error.code !== "EPIPE") throw error;
    process.exit(Number(process.exitCode ?? 0));
  };
  process.stdout.on("error", exitQuietly);
  // A closed stderr leaves nothing to report to: ignore it and let the command finish.
  process.stderr.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
}
