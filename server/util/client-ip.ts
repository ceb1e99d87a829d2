import { BlockList, isIP } from 'node:net';

/** Names a TRUST_PROXY list may use for address ranges whose proxies move (containers, pods). */
const NAMED_RANGES: Record<string, readonly string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * Parses TRUST_PROXY: `0`/empty = nobody; otherwise a comma-separated list of addresses, CIDR ranges and the
 * names `loopback`/`private`. Returns the normalised CIDRs, or the problems found. A bare hop count is refused:
 * it believed X-Forwarded-For from whoever connected, so a client reaching the port directly chose its IP.
 */
export function parseTrustProxy(raw: string): { cidrs: string[]; problems: string[] } {
  const cidrs: string[] = [];
  const problems: string[] = [];
  const text = raw.trim();
  if (text === '' || text === '0') return { cidrs, problems };
  if (/^\d+$/.test(text)) {
    problems.push(
      `TRUST_PROXY: "${text}" is a hop count, which believed X-Forwarded-For from any peer; list the proxies' ` +
        'addresses instead (e.g. TRUST_PROXY=10.0.0.0/8,127.0.0.1 or TRUST_PROXY=loopback)',
    );
    return { cidrs, problems };
  }
  for (const part of text.split(',').map((p) => p.trim())) {
    const named = NAMED_RANGES[part.toLowerCase()];
    if (named) {
      cidrs.push(...named);
      continue;
    }
    const cidr = parseCidr(part);
    if (cidr) cidrs.push(cidr);
    else problems.push(`TRUST_PROXY: "${part}" is not an IP address, a CIDR range, "loopback" or "private"`);
  }
  return { cidrs: [...new Set(cidrs)], problems };
}

function parseCidr(text: string): string | undefined {
  const [addr = '', bits, extra] = text.split('/');
  const family = isIP(addr);
  const max = family === 4 ? 32 : 128;
  if (!family || extra !== undefined) return undefined;
  if (bits === undefined) return `${addr}/${max}`;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return undefined;
  return `${addr}/${Number(bits)}`;
}

/** The proxies' ranges as a BlockList (used as an allow list); undefined when nobody is trusted. */
export function trustedProxies(cidrs: readonly string[]): BlockList | undefined {
  if (cidrs.length === 0) return undefined;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [addr = '', bits = ''] = cidr.split('/');
    list.addSubnet(addr, Number(bits), isIP(addr) === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/**
 * The client's IP. The socket's peer is the truth unless it is a trusted proxy; then X-Forwarded-For is walked
 * from the right (each hop appends its own peer), skipping trusted hops, and the first untrusted address is the
 * client. An entry that is not an IP ends the walk at the last trusted hop, so the result always parses as an
 * IP (it is shown on the phone's confirm page and used as a rate-limit key).
 */
export function clientIp(peer: string | undefined, forwardedFor: string | undefined, trusted?: BlockList): string {
  let ip = normalizeIp(peer ?? '') ?? '0.0.0.0';
  if (!trusted || !forwardedFor) return ip;
  const hops = forwardedFor.split(',').reverse();
  for (const hop of hops) {
    if (!isTrusted(trusted, ip)) break;
    const next = normalizeIp(hop);
    if (!next) break;
    ip = next;
  }
  return ip;
}

function isTrusted(list: BlockList, ip: string): boolean {
  return list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * An address as we store and show it, or undefined when it is none: trimmed, `[v6]:port` and `v4:port` forms
 * (some proxies add the port) reduced to the address, IPv4-mapped IPv6 (`::ffff:1.2.3.4`) to plain IPv4.
 */
export function normalizeIp(text: string): string | undefined {
  let s = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracketed?.[1]) s = bracketed[1];
  else if (/^[\d.]+:\d+$/.test(s)) s = s.slice(0, s.lastIndexOf(':'));
  if (s.length > 64) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  if (mapped?.[1]) s = mapped[1];
  return isIP(s) ? s.toLowerCase() : undefined;
}

/**
 * The key that groups one client's requests for limits: an IPv4 address, or an IPv6 address's /64 (one
 * subscriber commonly holds a whole /64, so per-address limits would be 2^64 times too generous).
 */
export function clientKey(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const groups = expandIpv6(ip).slice(0, 4);
  return `${groups.map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

function expandIpv6(ip: string): string[] {
  // A trailing dotted quad (::1.2.3.4) is two groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  let s = ip;
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    s = `${ip.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right];
}
