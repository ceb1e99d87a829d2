import { hostname } from 'node:os';
import { toAppError } from '../errors.js';
import type { Logger } from '../log.js';
import { keys } from '../redis/keys.js';
import type { RedisLink } from '../redis/link.js';
import { Script } from '../logins/scripts.js';
import { decodeTicket, encodeTicket, type StoredTicket, type TicketValue } from './ticket-codec.js';

/**
 * Writes a pushed ticket unless the stored one is newer (by WeChat's CreateTime): pushes can arrive out of order,
 * be retried, or reach two nodes. CreateTime is in seconds, so two different tickets can share one (a push asked
 * for with api_start_push_ticket right after the periodic one): the later arrival wins the tie, as both are valid
 * for the same 12 h, and keeping the earlier one could keep a ticket WeChat no longer takes. An unreadable stored
 * value (another serializer's bytes, a bare string) is replaced — that is how the fleet heals from it — and the
 * reply says so, with its size, for the log.
 * No expiry: a ticket is small, one per platform, and its age is judged from its own CreateTime (a ticket older
 * than 12 h is reported, never silently dropped: keys without a TTL are also never evicted under volatile-lru).
 * KEYS: the ticket. ARGV: the new value (JSON), its CreateTime, the new ticket.
 * Returns {'stored'}, {'same'} (this very push again), {'older', storedCreateTime} or {'replaced_corrupt', bytes}.
 */
const OFFER = new Script(`
local raw = redis.call('GET', KEYS[1])
if raw then
  local ok, cur = pcall(cjson.decode, raw)
  if ok and type(cur) == 'table' and cur.v == 1 and tonumber(cur.createTime) and type(cur.ticket) == 'string' then
    local stored = tonumber(cur.createTime)
    if stored == tonumber(ARGV[2]) and cur.ticket == ARGV[3] then return {'same'} end
    if stored > tonumber(ARGV[2]) then return {'older', tostring(stored)} end
  else
    redis.call('SET', KEYS[1], ARGV[1])
    return {'replaced_corrupt', tostring(#raw)}
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return {'stored'}
`);

/** What offering a pushed ticket did. */
export type OfferOutcome =
  | { readonly kind: 'stored' | 'same' }
  | { readonly kind: 'older'; readonly storedCreateTime: number }
  | { readonly kind: 'replaced_corrupt'; readonly bytes: number }
  /** Redis was unavailable: kept in this process and written once Redis is back (never older than what is there). */
  | { readonly kind: 'deferred' };

/**
 * The platform's component_verify_ticket in Redis (`platform:{<component appid>}:ticket`), shared by every node:
 * WeChat pushes it to one node every 10 minutes, and every node needs it to get the platform's token. A push that
 * meets Redis unavailable is not lost: the newest such ticket waits in this process and is written (newest-wins)
 * as soon as the link is ready again, so the push can be answered `success` within WeChat's 5 s regardless.
 */
export class TicketStore {
  readonly #link: RedisLink;
  readonly #log: Logger;
  readonly #component: string;
  readonly #clock: () => number;
  readonly #node = `${hostname()}:${process.pid}`;
  #pending: StoredTicket | undefined;
  #flushing = false;
  #stopped = false;

  constructor(opts: { link: RedisLink; logger: Logger; componentAppid: string; clock?: () => number }) {
    this.#link = opts.link;
    this.#log = opts.logger;
    this.#component = opts.componentAppid;
    this.#clock = opts.clock ?? Date.now;
  }

  /** The key under the link's current prefix. */
  get key(): string {
    return keys.platformTicket(this.#link.keyPrefix, this.#component);
  }

  /** The stored ticket, decoded (never throws on a bad value; Redis failures are `redis_unavailable`). */
  async read(): Promise<TicketValue> {
    try {
      return decodeTicket(await this.#link.command.get(this.key));
    } catch (err) {
      throw toAppError(err);
    }
  }

  /** Stores a pushed ticket if it is the newest; with Redis unavailable, keeps it to write later (`deferred`). */
  async offer(ticket: string, createTime: number): Promise<OfferOutcome> {
    const entry: StoredTicket = { ticket, createTime, receivedAt: this.#clock(), receivedBy: this.#node };
    try {
      return await this.#write(entry);
    } catch (err) {
      if (toAppError(err).code !== 'redis_unavailable') throw err;
      if (!this.#pending || this.#pending.createTime <= createTime) this.#pending = entry;
      if (!this.#flushing) {
        this.#flushing = true;
        void this.#flush().finally(() => {
          this.#flushing = false;
        });
      }
      this.#log.warn({ key: this.key, createTime }, 'component_verify_ticket kept in memory: Redis is unavailable');
      return { kind: 'deferred' };
    }
  }

  /** Stops waiting to write a deferred ticket. */
  stop(): void {
    this.#stopped = true;
  }

  async #write(entry: StoredTicket): Promise<OfferOutcome> {
    const reply = (await OFFER.run(
      this.#link.command,
      [this.key],
      [encodeTicket(entry), entry.createTime, entry.ticket],
    )) as [string, string?];
    const [kind, arg] = reply;
    if (kind === 'older') return { kind, storedCreateTime: Number(arg) };
    if (kind === 'replaced_corrupt') {
      this.#log.error(
        { key: this.key, bytes: Number(arg) },
        'the stored component_verify_ticket was unreadable (another program wrote it in another format); replaced by this push',
      );
      return { kind, bytes: Number(arg) };
    }
    return { kind: kind === 'same' ? 'same' : 'stored' };
  }

  /** Writes the deferred ticket once Redis answers again; gives up only when stopped. */
  async #flush(): Promise<void> {
    while (this.#pending && !this.#stopped) {
      if (this.#link.status === 'stopping' || this.#link.status === 'stopped') return;
      if (!(await this.#link.whenReady(5000))) continue;
      const entry = this.#pending;
      try {
        const outcome = await this.#write(entry);
        if (this.#pending === entry) this.#pending = undefined;
        this.#log.info({ key: this.key, outcome: outcome.kind }, 'deferred component_verify_ticket written');
      } catch (err) {
        if (toAppError(err).code !== 'redis_unavailable') {
          this.#log.error({ err, key: this.key }, 'deferred component_verify_ticket could not be written');
          if (this.#pending === entry) this.#pending = undefined;
        }
        // Ready but not answering (a paused host): try again shortly rather than at once.
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }
}
