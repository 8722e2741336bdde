/** Fields a log line carries besides its message: ids and timings, never whole events or secrets. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Structured JSON logs: one object per line with ids and timings, never whole events or secrets. */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /**
   * A logger whose every line carries `fields` (the poller, its execution, its generation), so call sites do not
   * repeat them. A call's own fields come after the bound ones and win on a clash.
   */
  child(fields: LogFields): Logger;
}

export type LogLevel = 'info' | 'warn' | 'error';

export type LogLine = { level: LogLevel; message: string } & Record<string, unknown>;

/** Where a logger's lines go: each with its level, message and all its fields (bound ones first). */
export type LogSink = (level: LogLevel, message: string, fields: LogFields | undefined) => void;

/** A Logger over `sink`: the one implementation of `child`, whatever the lines are written to. */
export function createLogger(sink: LogSink, bound?: LogFields): Logger {
  const emit = (level: LogLevel, message: string, fields?: LogFields) =>
    sink(level, message, bound === undefined ? fields : { ...bound, ...fields });
  return {
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
    child: (fields) => createLogger(sink, { ...bound, ...fields }),
  };
}

export function createJsonLogger(write: (line: string) => void = (line) => console.log(line)): Logger {
  return createLogger((level, message, fields) =>
    write(JSON.stringify({ level, message, time: new Date().toISOString(), ...fields })),
  );
}

export const silentLogger: Logger = createLogger(() => {});
