/** One structured log line: a flat JSON object. Callers never put code, stdin, output or keys in it. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  info(fields: LogFields): void;
  warn(fields: LogFields): void;
  error(fields: LogFields): void;
}

type Write = (line: string) => void;

/** A JSON-lines logger: info to stdout, warnings and errors to stderr. */
export function createLogger(
  out: Write = (line) => process.stdout.write(line),
  err: Write = (line) => process.stderr.write(line),
): Logger {
  const emit = (write: Write, level: string, fields: LogFields) =>
    write(`${JSON.stringify({ time: new Date().toISOString(), level, ...fields })}\n`);
  return {
    info: (fields) => emit(out, 'info', fields),
    warn: (fields) => emit(err, 'warn', fields),
    error: (fields) => emit(err, 'error', fields),
  };
}

/** A logger that drops everything (tests, embedding). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
