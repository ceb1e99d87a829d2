import { isIP } from 'node:net';

/**
 * A website application's authorised callback domain (docs/wechat.md §10): `redirect_uri` must be an http(s) URL
 * whose host equals it — a domain, so any port and path on it. The simulator takes the app's hosts as that domain;
 * built without one (a bare SimServer in unit tests) it allows loopback hosts only. Never an open redirect.
 */
export function callbackDomainCheck(urls: readonly (string | undefined)[]): (url: string) => boolean {
  const hosts = new Set(urls.flatMap((u) => (u ? [hostOf(u)] : [])).filter((h) => h !== undefined));
  return (url) => {
    const host = hostOf(url);
    if (!host) return false;
    return hosts.size > 0 ? hosts.has(host) : isLoopback(host);
  };
}

function hostOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.hostname.replace(/^\[|\]$/g, '') : undefined;
  } catch {
    return undefined;
  }
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
