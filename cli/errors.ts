/** Exit status for bad usage or a request the API rejected as invalid. */
export const EXIT_USAGE = 2;
/** Exit status when runtools itself could not run the program (server unreachable, auth, sandbox…). */
export const EXIT_FAILURE = 125;

/** A usage mistake: printed as one line plus a hint, exit 2. */
export class UsageError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** runtools could not do its job; printed as one line, exit 125. */
export class CliFailure extends Error {
  constructor(message: string, readonly exitCode: number = EXIT_FAILURE) {
    super(message);
    this.name = 'CliFailure';
  }
}
