import { pino, type Logger } from 'pino';

export type { Logger };

/** A JSON logger (pino) for one process role; every line carries the role so merged dev logs stay readable. */
export function createLogger(role: string, level = 'info'): Logger {
  return pino({ level, base: { role, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that drops everything, for callers (benchmarks, library use) that want no output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
