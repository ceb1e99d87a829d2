import { isIP } from 'node:net';

/**
 * Which URLs belong to the registered app: the only places the simulator sends a phone (OAuth `redirect_uri`)
 * or pushes events (`/sim/mp/scan {target}`). Real WeChat does the same — `redirect_uri` must be on the
 * account's configured OAuth domain (else 10003) and events go only to the configured server URL — and it keeps
 * the simulator from being an open redirect or a way to make requests to anything it can reach (SSRF).
 * Allowed: http(s) URLs on the origin of `appUrl` or of the configured push target. A simulator built without
 * either (a bare SimServer in unit tests) allows loopback URLs only.
 */
export function appUrlCheck(origins: readonly (string | undefined)[]): (url: string) => boolean {
  const allowed = new Set(origins.flatMap((o) => (o ? [originOf(o)] : [])).filter((o) => o !== undefined));
  return (url) => {
    const origin = originOf(url);
    if (!origin) return false;
    if (allowed.size > 0) return allowed.has(origin);
    return isLoopback(new URL(url).hostname);
  };
}

function originOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * WeChat's rule for OAuth redirects (docs/wechat.md §2): `redirect_uri`'s host must be exactly the account's
 * authorization domain (网页授权域名) — the whole host, no subdomain, any path, http or https. The console takes a
 * bare domain, so on real WeChat the URL cannot carry a port; the simulated account's domain may include one
 * (`localhost:3000`) only because dev servers listen on ports.
 */
export function oauthDomainCheck(domain: string): (url: string) => boolean {
  const want = domain.toLowerCase();
  return (url) => {
    try {
      const u = new URL(url);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.host === want;
    } catch {
      return false;
    }
  };
}

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
