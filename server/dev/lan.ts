import { networkInterfaces } from 'node:os';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Whether a host name or address is this machine's loopback, which a phone cannot reach. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || host.startsWith('127.');
}

/** Whether a URL's host is loopback (false for what is not a URL). */
export function isLoopbackUrl(url: string): boolean {
  return URL.canParse(url) && isLoopbackHost(new URL(url).hostname);
}

/**
 * This machine's address on the local network as a phone on the same Wi-Fi reaches it: the first external IPv4
 * address, preferring the private ranges (192.168/16, 10/8, 172.16/12) over others (a VPN's, a public one).
 */
export function lanAddress(interfaces = networkInterfaces()): string | undefined {
  const candidates = Object.values(interfaces)
    .flatMap((list) => list ?? [])
    .filter((i) => i.family === 'IPv4' && !i.internal)
    .map((i) => i.address);
  const isPrivate = (a: string) => /^(192\.168\.|10\.|172\.(1[6-9]|2\d|3[01])\.)/.test(a);
  return candidates.find(isPrivate) ?? candidates[0];
}

/**
 * The URL to use as PUBLIC_URL so a real phone can open the QR code's link: `url` with its loopback host replaced
 * by the LAN address. Undefined when `url` is not on loopback (PUBLIC_URL was chosen) or no LAN address exists.
 */
export function lanUrlFor(url: string, address = lanAddress()): string | undefined {
  if (!address || !isLoopbackUrl(url)) return undefined;
  const u = new URL(url);
  u.hostname = address;
  return u.origin;
}
