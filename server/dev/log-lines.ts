import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'role', 'msg', 'v']);

/** Prints a child's output line by line as `[role] level message key=value`, so merged dev logs stay readable. */
export function pipeWithPrefix(stream: Readable, role: string, write: (line: string) => void): void {
  const prefix = `[${role}]`.padEnd(7);
  createInterface({ input: stream }).on('line', (line) => write(`${prefix} ${prettyLine(line)}`));
}

/** A pino JSON line as `level message key=value …`; any other line unchanged. */
export function prettyLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const rec = JSON.parse(line) as Record<string, unknown>;
    const extras = Object.entries(rec)
      .filter(([k]) => !SKIP.has(k))
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
    const level = LEVELS[rec.level as number] ?? String(rec.level);
    return `${level.padEnd(5)} ${String(rec.msg ?? '')}${extras.length ? ` ${extras.join(' ')}` : ''}`;
  } catch {
    return line;
  }
}
