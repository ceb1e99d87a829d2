import path from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { type ClientEntry, ClientRegistry, type SourcedClient } from './clients.js';
import { parseClientsFile, readClientsText } from './clients-file.js';
import { statSignature } from '../util/file-signature.js';

/**
 * Where the http role's clients come from, kept in one ClientRegistry: the environment's (`OIDC_CLIENT_*`, and
 * Example Shop with `DEMO_CLIENT_SECRET`), CONFIG_FILE's `oidc.clients` (handed in by OidcService, which follows
 * that file) and OIDC_CLIENTS_FILE, followed here by a stat poll. Every change of the clients in force is one log
 * line with their count and ids — never a secret — so a developer sees at once whether a site was picked up.
 */
export class ClientSources {
  readonly registry: ClientRegistry;
  readonly #file: string | undefined;
  readonly #logger: Logger;
  #stat = '';
  #shown = '';
  #loading: Promise<void> = Promise.resolve();

  private constructor(registry: ClientRegistry, file: string | undefined, logger: Logger) {
    this.registry = registry;
    this.#file = file;
    this.#logger = logger;
  }

  /**
   * The clients at start-up: `section` is CONFIG_FILE's `oidc.clients` (`sectionFile` names it). A refused list
   * or a malformed clients file is fatal here; a clients file that does not exist (yet) holds no clients.
   */
  static async start(
    config: Config,
    section: readonly ClientEntry[],
    sectionFile: string,
    logger: Logger,
  ): Promise<ClientSources> {
    const { client, demoClient, clientsFile } = config.oidc;
    const fixed: SourcedClient[] = [
      ...(client ? [{ source: 'the environment (OIDC_CLIENT_ID)', client }] : []),
      ...(demoClient ? [{ source: 'Example Shop (DEMO_CLIENT_SECRET)', client: demoClient }] : []),
    ];
    // A deployment with no app of its own (only its platform's accounts): every site must name its account.
    const accountRequired = !config.wechat.appid && !config.miniProgram && !config.webApp;
    const sources = new ClientSources(new ClientRegistry(fixed, { accountRequired }), clientsFile, logger);
    const refused = sources.registry.update(section);
    if (refused) throw new Error(`${sectionFile}: ${refused}`);
    if (clientsFile) {
      // Taken before the read: a write from this moment on is a change, however soon it comes.
      sources.#stat = await statSignature(clientsFile);
      const label = clientsLabel(clientsFile);
      const text = await readClientsText(clientsFile);
      const fromFile = sources.registry.update(text === undefined ? [] : parseClientsFile(text, label), label);
      if (fromFile) throw new Error(fromFile);
    }
    sources.#show('OIDC clients loaded');
    return sources;
  }

  /** CONFIG_FILE's `oidc.clients` changed; returns the error message when the list was refused. */
  applySection(clients: readonly ClientEntry[], file: string): string | undefined {
    const refused = this.registry.update(clients);
    if (!refused) this.#show('OIDC clients reloaded', file);
    return refused;
  }

  /** Called by the owner's poll timer: re-reads OIDC_CLIENTS_FILE when it changed (or appeared, or went). */
  async poll(): Promise<void> {
    const file = this.#file;
    if (!file) return;
    const sig = await statSignature(file);
    if (sig === this.#stat) return;
    this.#stat = sig;
    this.#loading = this.#loading.then(() => this.#load(file));
    await this.#loading;
  }

  /** A removed file holds no clients; a malformed one keeps the clients in force and logs one error. */
  async #load(file: string): Promise<void> {
    const label = clientsLabel(file);
    try {
      const text = await readClientsText(file);
      const refused = this.registry.update(text === undefined ? [] : parseClientsFile(text, label), label);
      if (refused) throw new Error(refused);
      this.#show('OIDC clients reloaded', label);
    } catch (err) {
      this.registry.refuse((err as Error).message, label);
      this.#logger.error(
        { file: label, err: (err as Error).message },
        'invalid clients file ignored; keeping the current clients',
      );
    }
  }

  /** One line when the clients in force changed since the last one. */
  #show(msg: string, file?: string): void {
    const ids = this.registry.ids();
    // Compared in memory only: the secrets are part of what changed, but never logged.
    const shown = JSON.stringify(ids.map((id) => this.registry.get(id)));
    if (shown === this.#shown) return;
    this.#shown = shown;
    this.#logger.info({ count: ids.length, ids: ids.join(','), ...(file && { file }) }, msg);
  }
}

/** A file as messages name it: relative to the working folder when inside it (`.scanlogin/clients.json`). */
function clientsLabel(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}
