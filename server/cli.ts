#!/usr/bin/env node
import { ConfigError, type ConfigRole, loadConfig, type Config } from './config.js';
import { createLogger } from './log.js';
import type { Running } from './roles/running.js';

const USAGE = `usage: scanlogin <role>
  http   API, scan URL, WeChat OAuth callback, phone pages, login page   (HTTP_PORT, default 3000)
  ws     WebSocket push server on /ws                                   (WS_PORT, default 3001)
  sim    WeChat simulator (development and tests only)                  (SIM_PORT, default 3002)
  demo   "Example Shop", a sample site signing in through OpenID Connect (DEMO_PORT, default 3003; dev only)
  dev    all four as child processes, plus a private redis-server when REDIS_URL is unset (npm start)
  keys FILE      write a new OpenID Connect signing key file (JWKS) to FILE, or check and keep the one there
  doctor [URL…]  list every process registered in the configured Redis (and those at the given URLs);
                 exit 1 with an explanation when any two disagree about which Redis they use
  client add --name <name> --redirect-uri <url>  register a site as an OpenID Connect client in
                 .scanlogin/clients.json (OIDC_CLIENTS_FILE) and print its client_id and client_secret
Configuration comes from the environment; see docs/config.md.`;

const ROLES: readonly ConfigRole[] = ['http', 'ws', 'sim', 'demo', 'dev', 'doctor'];
const isRole = (name: string): name is ConfigRole => (ROLES as readonly string[]).includes(name);

async function main(argv: string[]): Promise<number> {
  const role = argv[0];
  if (!role || role === 'help' || role === '--help' || role === '-h') {
    console.log(USAGE);
    return role ? 0 : 2;
  }
  // Each command and role imports only its own modules: a process of `npm start` loads the code of its role, not
  // that of the five others (module loading is most of a role's start-up CPU: ≈ 1 s of ≈ 3 s per stack).
  // Needs no configuration of its own (only where the clients file is): an unrelated setting never blocks it.
  if (role === 'client') {
    const { runClientCommand } = await import('./oidc/client-command.js');
    return runClientCommand(argv.slice(1), process.env, process.cwd(), console.log, console.error);
  }
  // Before the configuration: a key file is made before any role can start (docker-compose.yml's `keys` service).
  if (role === 'keys') return keysCommand(argv[1]);
  let config: Config;
  try {
    config = loadConfig(process.env, isRole(role) ? role : undefined);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  if (role === 'doctor') {
    const { runDoctor } = await import('./doctor/run.js');
    return runDoctor(config, argv.slice(1), (line) => console.log(line));
  }
  // Signals are taken before anything starts: without a listener SIGINT/SIGTERM end the process at once, skipping
  // the 'exit' handlers that kill a dev stack's children — a signal in the instant between "running" and a
  // listener left orphans. The first signal stops the role once it is up; a second one does not wait.
  let signals = 0;
  let firstSignal!: (sig: NodeJS.Signals) => void;
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => (firstSignal = resolve));
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) process.exit(130);
    firstSignal(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // The runner's terminal closing (SIGHUP) ends `npm start` like Ctrl-C; the roles keep SIGHUP for re-reading
  // their configuration.
  if (role === 'dev') process.on('SIGHUP', onSignal);
  // A role `npm start` started has an IPC channel to it: when the runner is gone however it ended (kill -9
  // included), the channel closes and the role stops, instead of holding its port for ever as an orphan.
  if (process.channel) {
    process.once('disconnect', () => {
      console.error(`the npm start that ran this ${role} is gone: stopping`);
      firstSignal('SIGTERM');
    });
  }
  let running: Running & { ended?: Promise<number> };
  switch (role) {
    // (oidc-provider, which only http and demo load, warns about the runtime when imported.)
    case 'http':
      running = await (await import('./roles/http.js')).runHttp(config, createLogger('http', config.logLevel));
      break;
    case 'ws':
      running = await (await import('./roles/ws.js')).runWs(config, createLogger('ws', config.logLevel));
      break;
    case 'sim':
      running = await (await import('./roles/sim.js')).runSim(config, createLogger('sim', config.logLevel));
      break;
    case 'demo':
      running = await (await import('./roles/demo.js')).runDemo(config, createLogger('demo', config.logLevel));
      break;
    case 'dev': {
      const [{ runDev }, { DevStartRefused }] = await Promise.all([
        import('./dev/runner.js'),
        import('./dev/preflight.js'),
      ]);
      try {
        running = await runDev(config, process.env, (line) => console.log(line));
      } catch (err) {
        // Refused before anything was started or written (a busy port, another stack's lock): exit 2.
        if (!(err instanceof DevStartRefused)) throw err;
        console.error(err.message);
        return err.exitCode;
      }
      break;
    }
    default:
      console.error(`unknown role "${role}"\n${USAGE}`);
      return 2;
  }
  return new Promise<number>((resolve) => {
    void stopRequested.then((sig) => {
      console.error(`${sig}: stopping ${role}…`);
      running.stop().then(
        () => resolve(0),
        (err: unknown) => {
          console.error(err);
          resolve(1);
        },
      );
    });
    running.ended?.then(resolve);
  });
}

/** `scanlogin keys FILE`: 0 with a new or a valid existing file; 1 naming the problem of an existing bad one. */
async function keysCommand(file: string | undefined): Promise<number> {
  if (!file) {
    console.error('usage: scanlogin keys FILE');
    return 2;
  }
  const { ensureJwksFile, readJwksFile } = await import('./oidc/keys.js');
  const outcome = await ensureJwksFile(file);
  try {
    const { keys } = await readJwksFile(file);
    console.log(`${file}: ${outcome === 'created' ? 'new signing key' : 'kept'} (kid ${keys[0]!.kid})`);
    return 0;
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
