import { z } from 'zod';

/** The simulated APIs a fault can be put on (as WeChat names them, without the leading slash); `*` = all. */
export const FAULT_APIS = [
  'cgi-bin/token',
  'cgi-bin/stable_token',
  'cgi-bin/qrcode/create',
  'wxa/getwxacodeunlimit',
  'sns/oauth2/access_token',
  'sns/userinfo',
  'sns/jscode2session',
  'cgi-bin/component/api_component_token',
  'cgi-bin/component/api_create_preauthcode',
  'cgi-bin/component/api_query_auth',
  'cgi-bin/component/api_authorizer_token',
  'cgi-bin/component/api_get_authorizer_info',
  'sns/oauth2/component/access_token',
  'sns/component/jscode2session',
  'cgi-bin/message/custom/send',
] as const;
export type FaultApi = (typeof FAULT_APIS)[number];

/**
 * The errcodes a fault can answer (docs/wechat.md §9, §12.9): -1 busy, 40164 IP not whitelisted, 45009 daily quota,
 * 45011 frequency, 48001 API not authorised, 40001 token invalid; the platform's 61003 not authorized by the account,
 * 61004 platform IP not whitelisted, 61005 ticket expired, 61006 ticket invalid, 61007 permission set not granted,
 * 61023 refresh token invalid.
 */
export const FAULT_ERRCODES = [
  -1, 40164, 45009, 45011, 48001, 40001, 61003, 61004, 61005, 61006, 61007, 61023,
] as const;
export type FaultErrcode = (typeof FAULT_ERRCODES)[number];

/** Longest window a fault may be set for (an hour), and most calls it may take (so a typo cannot wedge a stack). */
const MAX_WINDOW_MS = 3_600_000;
const MAX_COUNT = 100_000;
/** Faults kept on record. */
const MAX_RECORDS = 1000;

/** `POST /sim/faults` body: the API (`*` for all), the errcode, and how long — `count` calls and/or `ms`. */
export const FaultSpec = z
  .object({
    api: z.enum([...FAULT_APIS, '*']),
    errcode: z.union(FAULT_ERRCODES.map((c) => z.literal(c))),
    count: z.number().int().min(1).max(MAX_COUNT).optional(),
    ms: z.number().int().min(1).max(MAX_WINDOW_MS).optional(),
  })
  .strict()
  .refine((s) => s.count !== undefined || s.ms !== undefined, {
    message: 'give count (the next N calls) and/or ms (a time window)',
  });
export type FaultSpec = z.infer<typeof FaultSpec>;

/** One fault as `GET /sim/faults` lists it (spent and past ones stay listed, inactive, until cleared). */
export interface FaultView {
  readonly id: number;
  /** Still answering calls: count left and window not over. */
  readonly active: boolean;
  readonly api: FaultApi | '*';
  readonly errcode: FaultErrcode;
  /** Calls it will still answer; absent for a pure time window. */
  readonly remaining?: number;
  /** ms since epoch when it ends; absent for a pure count. */
  readonly until?: number;
  /** Calls it answered so far (by API path): the upstream calls the app made while it was on. */
  readonly hits: Readonly<Record<string, number>>;
}

interface Fault {
  readonly id: number;
  readonly api: FaultApi | '*';
  readonly errcode: FaultErrcode;
  remaining: number | undefined;
  readonly until: number | undefined;
  readonly hits: Map<string, number>;
}

/**
 * Faults on demand: the next N calls, or a time window, of a simulated API answer an errcode instead of their
 * normal answer. Faults are checked in the order they were added; the first active one matching a call takes
 * it. Spent and past faults stay on record (with the calls they answered) until cleared, so a test can count
 * what the app asked while the fault was on. A dev/test control of the simulator only.
 */
export class SimFaults {
  readonly #clock: () => number;
  #faults: Fault[] = [];
  #nextId = 1;

  constructor(clock: () => number) {
    this.#clock = clock;
  }

  /** Adds a fault; returns it as listed. */
  add(spec: FaultSpec): FaultView {
    const fault: Fault = {
      id: this.#nextId++,
      api: spec.api,
      errcode: spec.errcode,
      remaining: spec.count,
      until: spec.ms !== undefined ? this.#clock() + spec.ms : undefined,
      hits: new Map(),
    };
    // Oldest records go first once there are too many: a long dev session must not grow without bound.
    if (this.#faults.length >= MAX_RECORDS) this.#faults.shift();
    this.#faults.push(fault);
    return this.#view(fault);
  }

  /** Every fault on record, oldest first. */
  list(): FaultView[] {
    return this.#faults.map((f) => this.#view(f));
  }

  /** Removes every fault; returns how many were still active. */
  clear(): number {
    const active = this.#faults.filter((f) => this.#active(f)).length;
    this.#faults = [];
    return active;
  }

  /**
   * The errcode a call to `path` (e.g. `/cgi-bin/token`) must answer, or undefined for its normal answer.
   * Taking a call spends one of the fault's count.
   */
  take(path: string): FaultErrcode | undefined {
    const api = path.replace(/^\/+/, '');
    if (!isFaultApi(api)) return undefined;
    const fault = this.#faults.find((f) => (f.api === '*' || f.api === api) && this.#active(f));
    if (!fault) return undefined;
    if (fault.remaining !== undefined) fault.remaining -= 1;
    fault.hits.set(path, (fault.hits.get(path) ?? 0) + 1);
    return fault.errcode;
  }

  #active(f: Fault): boolean {
    return (f.remaining === undefined || f.remaining > 0) && (f.until === undefined || this.#clock() < f.until);
  }

  #view(f: Fault): FaultView {
    return {
      id: f.id,
      active: this.#active(f),
      api: f.api,
      errcode: f.errcode,
      ...(f.remaining !== undefined && { remaining: f.remaining }),
      ...(f.until !== undefined && { until: f.until }),
      hits: Object.fromEntries(f.hits),
    };
  }
}

export function isFaultApi(api: string): api is FaultApi {
  return (FAULT_APIS as readonly string[]).includes(api);
}
