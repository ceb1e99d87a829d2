import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/**
 * The compose files read as compose reads them, for the static checks (test/integration/compose*.test.ts); the
 * same files run for real in test/compose/ (`npm run test:compose`, a container engine needed).
 */
export interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  secrets?: string[];
  profiles?: string[];
  container_name?: string;
  restart?: string;
  user?: string;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  network_mode?: string;
}

export function loadCompose(file: string): Record<string, Service> {
  return (parse(readFileSync(file, 'utf8'), { merge: true }) as { services: Record<string, Service> }).services;
}

/**
 * Compose's interpolation for the forms these files use: `${VAR:-default}`, and `${VAR:?message}`, which stops
 * compose with the message when VAR is unset or empty. `vars`: what compose would read (environment, .env).
 */
export function interpolate(v: string | number, vars: NodeJS.ProcessEnv = {}): string {
  return String(v).replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg = '') => {
    const value = vars[name];
    if (value) return value;
    if (op === '?') throw new Error(`required variable ${name} is missing a value: ${arg}`);
    return op === '-' ? arg : '';
  });
}

/** A service's environment as its container gets it, under `vars`. */
export function envOf(services: Record<string, Service>, name: string, vars: NodeJS.ProcessEnv = {}) {
  const env = services[name]!.environment ?? {};
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(v, vars)])) as Record<string, string>;
}
