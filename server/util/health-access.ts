import { BlockList } from 'node:net';
import { safeEqual } from './crypto.js';

/** Loopback and private ranges: an operator's own network (a probe, a sidecar, `doctor` on the host). */
const INTERNAL = new BlockList();
INTERNAL.addSubnet('127.0.0.0', 8, 'ipv4');
INTERNAL.addSubnet('10.0.0.0', 8, 'ipv4');
INTERNAL.addSubnet('172.16.0.0', 12, 'ipv4');
INTERNAL.addSubnet('192.168.0.0', 16, 'ipv4');
INTERNAL.addAddress('::1', 'ipv6');
INTERNAL.addSubnet('fc00::', 7, 'ipv6');

/**
 * Whether a `/healthz` caller may read the detail (Redis target and hosts, run_id, config file and its error,
 * token metrics): a client address (after the trusted-proxy walk, so a public browser behind the proxy is public)
 * on loopback or a private network, or `Authorization: Bearer <HEALTH_TOKEN>`. Everyone else gets `{ok}`.
 */
export function mayReadHealthDetail(
  clientIp: string,
  authorization: string | undefined,
  healthToken: string | undefined,
): boolean {
  const bearer = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
  if (healthToken && bearer && safeEqual(bearer, healthToken)) return true;
  const family = clientIp.includes(':') ? 'ipv6' : 'ipv4';
  try {
    return INTERNAL.check(clientIp, family);
  } catch {
    return false; // not an address at all
  }
}
