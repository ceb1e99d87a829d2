import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/** Error fields that carry what a command was called with: tickets, session ids, tokens, secrets. */
const ARGUMENT_FIELDS = new Set(['command', 'args', 'previousErrors', 'lastNodeError']);
/** Secrets that travel in URLs (WeChat's API takes them as query parameters) and may sit in a message. */
const URL_SECRET_RE = /([?&](?:access_token|secret|appsecret|js_code|code|ticket|refresh_token)=)[^&\s"']+/gi;

/**
 * pino's error serializer, minus everything an error carries about its command's arguments. ioredis errors keep
 * `command: {name, args}` (an EVALSHA's args are a live ticket and a new session id; a SET's a fresh
 * access_token), and a wrapped error repeats them under `cause`; secrets in URLs are masked in every string.
 */
export function scrubError(err: unknown): unknown {
  return scrub(pino.stdSerializers.err(err as Error), 0);
}

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.replace(URL_SECRET_RE, '$1[redacted]');
  if (!value || typeof value !== 'object' || depth > 6) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!ARGUMENT_FIELDS.has(k)) out[k] = scrub(v, depth + 1);
  }
  return out;
}

/**
 * A JSON logger (pino) for one process role; every line carries the role so merged dev logs stay readable.
 * `destination` defaults to stdout (tests pass a stream to read the lines back).
 */
export function createLogger(role: string, level = 'info', destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { role, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: scrubError },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that drops everything, for callers (benchmarks, library use) that want no output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
