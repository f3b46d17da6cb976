// Bad input that the user can fix: a command-line flag, a board file, a config image, a workload,
// a storage directory, an export to replay. Every such error extends UserError, wherever it is
// thrown, so that the command line can tell it from a bug without knowing each kind: it prints
// one `imx-memsim: <message>` line and exits 2 (host/cli/errors.ts).

/**
 * Bad input that the user can fix (a board file, a config image, a storage directory, a flag): the
 * base class of BoardError, ConfigImageError, StorageError and UsageError. Catch it to tell bad
 * input from a bug; the command line prints its message on one line and exits 2.
 */
export class UserError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UserError";
  }
}

/** Bad command-line input: a flag or an argument that cannot be used as given. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
