#!/usr/bin/env node
/**
 * The container's health check (Dockerfile HEALTHCHECK, docker-compose.yml): `node dist/server/healthcheck.js
 * [/livez|/readyz]` asks this container's role on loopback and exits 0 on a 200. One image runs every role and the
 * check does not know which one this is, so it asks the http port, then the ws port: only one of them listens here.
 * No curl in the slim image, and no config loading (a probe must not fail on what the role itself accepted).
 */
import http from 'node:http';

const path = process.argv[2] === '/readyz' ? '/readyz' : '/livez';
const ports = [process.env.HTTP_PORT || '3000', process.env.WS_PORT || '3001'];

function ask(port: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: Number(port), path, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

for (const port of ports) {
  if (await ask(port)) process.exit(0);
}
process.exit(1);
