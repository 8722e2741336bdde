/** Structured JSON logs: one object per line with ids and timings, never whole events or secrets. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export type LogLine = { level: 'info' | 'warn' | 'error'; message: string } & Record<string, unknown>;

export function createJsonLogger(write: (line: string) => void = (line) => console.log(line)): Logger {
  const emit = (level: LogLine['level'], message: string, fields?: Record<string, unknown>) =>
    write(JSON.stringify({ level, message, time: new Date().toISOString(), ...fields }));
  return {
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
