import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { LinkStatus, RedisLink } from '../redis/link.js';
import { trackRedisCluster } from './redis-cluster.js';
import type { LoginRecord, TransitionName } from '../logins/model.js';
import type { PlatformState } from '../platform/health.js';

const LINK_STATUSES: readonly LinkStatus[] = [
  'connecting',
  'ready',
  'reconnecting',
  'switching',
  'stopping',
  'stopped',
];
/** Seconds, from a local publish (~1 ms) to a slow cross-host hop or a client's full TCP buffer. */
const PUSH_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Seconds a person takes between the scan and the confirm tap (plus the OAuth round trip). */
const HUMAN_BUCKETS = [1, 2, 3, 5, 8, 13, 20, 30, 45, 60, 90, 120, 300];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What one access_token reports (wechat/token/manager.ts `health()`), by appid. */
interface TokenFigures {
  tokenAgeMs?: number;
  fetchCount?: number;
  failureCount?: number;
}

/**
 * This process's Prometheus metrics, on its own registry (never prom-client's global one): one instance per
 * process, created by the role and passed to whatever records into it. The hot paths only increment counters
 * and observe histograms; everything that is a reading of current state (sockets, watched logins, the Redis
 * link, access_tokens) is read when scraped, through the `track*` callbacks.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly loginsCreated: Counter<'mode'>;
  readonly loginsFinished: Counter<'mode' | 'outcome'>;
  readonly scanToConfirm: Histogram<'mode'>;
  readonly pushLatency: Histogram;
  readonly longPolls: Gauge;
  readonly refusals: Counter<'code'>;
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  readonly httpDuration: Histogram<'route'>;
  readonly #redisSwitches: Counter;
  readonly #redisReconnects: Counter;
  readonly #redisErrors: Counter;

  constructor(role: string) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ role });
    collectDefaultMetrics({ register: this.registry, prefix: 'scanlogin_' });
    this.loginsCreated = new Counter({
      name: 'scanlogin_logins_created_total',
      help: 'Logins created, by mode',
      labelNames: ['mode'],
      registers,
    });
    this.loginsFinished = new Counter({
      name: 'scanlogin_logins_finished_total',
      help: 'Logins that reached confirmed, cancelled or expired in this process, by mode and outcome',
      labelNames: ['mode', 'outcome'],
      registers,
    });
    this.scanToConfirm = new Histogram({
      name: 'scanlogin_login_scan_to_confirm_seconds',
      help: 'Time from the scan to the confirmation, by mode',
      labelNames: ['mode'],
      buckets: HUMAN_BUCKETS,
      registers,
    });
    this.pushLatency = new Histogram({
      name: 'scanlogin_push_latency_seconds',
      help: 'Time from a login change (its publish) to the write on a watching socket',
      buckets: PUSH_BUCKETS,
      registers,
    });
    this.longPolls = new Gauge({ name: 'scanlogin_long_polls', help: 'Long-polls waiting now', registers });
    this.refusals = new Counter({
      name: 'scanlogin_rate_limit_refusals_total',
      help: 'Requests and sockets refused by a limit, by error code (rate_limited, too_many_connections)',
      labelNames: ['code'],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'scanlogin_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'scanlogin_http_request_duration_seconds',
      help: 'HTTP request duration by route pattern (long-polls included)',
      labelNames: ['route'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.#redisSwitches = new Counter({
      name: 'scanlogin_redis_switches_total',
      help: 'Moves to another Redis target (configuration changes)',
      registers,
    });
    this.#redisReconnects = new Counter({
      name: 'scanlogin_redis_reconnects_total',
      help: 'Times the Redis link lost a connection and reconnected',
      registers,
    });
    this.#redisErrors = new Counter({
      name: 'scanlogin_redis_errors_total',
      help: 'Errors reported by the current Redis clients',
      registers,
    });
  }

  /**
   * One answered request (Koa's access log and the hot lane): by route pattern (never the raw path), method and
   * status; its duration by route. Label objects, not cached children: prom-client hashes the labels on every
   * `inc`/`observe` either way (bench/RESULTS.md).
   */
  requestAnswered(route: string, method: string, status: number, seconds: number): void {
    this.httpRequests.inc({ route, method, status: String(status) });
    this.httpDuration.observe({ route }, seconds);
  }

  /** A login was created / changed state (logins/store.ts events). */
  loginCreated(rec: LoginRecord): void {
    this.loginsCreated.inc({ mode: rec.mode });
  }

  loginChanged(name: TransitionName, rec: LoginRecord, now: number): void {
    if (name === 'scan' || name === 'identify') return;
    this.loginsFinished.inc({ mode: rec.mode, outcome: rec.status });
    if (rec.status === 'confirmed' && rec.scannedAt !== undefined) {
      this.scanToConfirm.observe({ mode: rec.mode }, Math.max(0, now - rec.scannedAt) / 1000);
    }
  }

  /** The Redis link's status (one gauge per status, 1 for the current), generation, switches and errors. */
  trackLink(link: RedisLink): void {
    const registers = [this.registry];
    new Gauge({
      name: 'scanlogin_redis_link_status',
      help: 'The Redis link status: 1 for the current one',
      labelNames: ['status'],
      registers,
      collect() {
        for (const s of LINK_STATUSES) this.set({ status: s }, link.status === s ? 1 : 0);
      },
    });
    new Gauge({
      name: 'scanlogin_redis_link_generation',
      help: 'Pairs of Redis clients installed so far (grows on every switch)',
      registers,
      collect() {
        this.set(link.generation);
      },
    });
    link.observe({
      status: (next, prev) => {
        if (next === 'switching') this.#redisSwitches.inc();
        else if (next === 'reconnecting' && prev !== next) this.#redisReconnects.inc();
      },
      clientError: () => this.#redisErrors.inc(),
    });
    trackRedisCluster(this.registry, link);
  }

  /** A gauge read when scraped (open sockets, watched logins). */
  trackGauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** The shared access_tokens by appid: fetches, failures and the age of the one in use. */
  trackTokens(read: () => Record<string, TokenFigures>): void {
    const registers = [this.registry];
    const labelNames = ['appid'] as const;
    new Gauge({
      name: 'scanlogin_wechat_access_token_age_seconds',
      help: 'Age of the access_token in use, by appid',
      labelNames,
      registers,
      collect() {
        for (const [appid, t] of Object.entries(read())) {
          if (t.tokenAgeMs !== undefined) this.set({ appid }, t.tokenAgeMs / 1000);
        }
      },
    });
    // Counters kept by the token supply; copied at scrape time (reset + inc keeps them counters).
    for (const [field, name, help] of [
      ['fetchCount', 'scanlogin_wechat_access_token_fetches_total', 'access_token fetches from WeChat, by appid'],
      ['failureCount', 'scanlogin_wechat_access_token_failures_total', 'Failed access_token fetches, by appid'],
    ] as const) {
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const [appid, t] of Object.entries(read())) this.inc({ appid }, t[field] ?? 0);
        },
      });
    }
  }

  /**
   * The third-party platform as Redis shows it (platform/health.ts), read once per scrape: the ticket's state and
   * age, its standing token problem (61005/61006/61004, a missing or unreadable ticket) by code and errcode, the
   * accounts authorized and revoked, and the accounts with a standing problem (61023, 61003) by code. Alert on
   * `scanlogin_platform_problem` or `scanlogin_platform_ticket_state{state!="ok"}`.
   */
  trackPlatform(read: () => Promise<PlatformState>): void {
    const registers = [this.registry];
    let cached: { at: number; state: Promise<PlatformState | undefined> } | undefined;
    const state = () => {
      const now = Date.now();
      if (!cached || now - cached.at > 1000) cached = { at: now, state: read().catch(() => undefined) };
      return cached.state;
    };
    new Gauge({
      name: 'scanlogin_platform_ticket_state',
      help: 'The stored component_verify_ticket: 1 for its state (ok, missing, corrupt, expired)',
      labelNames: ['state'],
      registers,
      async collect() {
        const s = await state();
        if (!s) return;
        for (const v of ['ok', 'missing', 'corrupt', 'expired'] as const)
          this.set({ state: v }, s.ticket.state === v ? 1 : 0);
      },
    });
    new Gauge({
      name: 'scanlogin_platform_ticket_age_seconds',
      help: 'Age of the stored component_verify_ticket by its CreateTime (valid 12 h; pushed every 10 min)',
      registers,
      async collect() {
        const s = await state();
        this.reset();
        if (s?.ticket.ageS !== undefined) this.set(s.ticket.ageS);
      },
    });
    new Gauge({
      name: 'scanlogin_platform_problem',
      help: "1 while the platform's token has a standing failure, by our code and WeChat's errcode",
      labelNames: ['code', 'errcode'],
      registers,
      async collect() {
        const s = await state();
        this.reset();
        if (s?.problem) this.set({ code: s.problem.code, errcode: String(s.problem.errcode ?? '') }, 1);
      },
    });
    new Gauge({
      name: 'scanlogin_platform_accounts',
      help: 'Accounts that authorized the platform, by state (authorized, revoked)',
      labelNames: ['state'],
      registers,
      async collect() {
        const s = await state();
        if (!s) return;
        this.set({ state: 'authorized' }, s.accounts.authorized);
        this.set({ state: 'revoked' }, s.accounts.revoked);
      },
    });
    new Gauge({
      name: 'scanlogin_platform_account_problems',
      help: 'Accounts whose authorization has a standing failure (61023 refresh token refused, 61003), by code',
      labelNames: ['code'],
      registers,
      async collect() {
        const s = await state();
        this.reset();
        const counts = new Map<string, number>();
        for (const p of Object.values(s?.accountProblems ?? {})) counts.set(p.code, (counts.get(p.code) ?? 0) + 1);
        for (const [code, n] of counts) this.set({ code }, n);
      },
    });
  }

  /** The text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
