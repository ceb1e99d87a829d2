import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import type { Config } from '../config.js';
import { clusterTarget, describeTarget, sameTarget, standaloneTarget, type RedisTarget } from '../redis/target.js';
import { parseConfigFile } from './config-file.js';

export type SourceState = 'idle' | 'watching' | 'stopped';

/**
 * Where this process's Redis target comes from, and the watcher that notices when it changes.
 * With `CONFIG_FILE`, the file is watched by `fs.watch` on its folder AND a cheap stat poll (editors that
 * rename, Docker bind mounts and Kubernetes ConfigMap symlink swaps each defeat `fs.watch` alone), and
 * re-read on SIGHUP. Same content → nothing. An invalid file keeps the current target, logs one error and
 * exposes it as `lastError` until a valid file arrives. Without a file (or while it is missing) the
 * environment's target is used.
 */
export class RedisConfigSource {
  #state: SourceState = 'idle';
  #target: RedisTarget;
  #lastText: string | undefined;
  #lastError: string | undefined;
  #lastStat = '';
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #checking: Promise<void> = Promise.resolve();
  #onChange: ((target: RedisTarget) => void) | undefined;
  readonly #textListeners = new Set<(text: string) => void>();
  readonly #file: string | undefined;
  readonly #defaultPrefix: string;
  readonly #log: Logger;
  readonly #pollMs: number;
  readonly #onSighup = () => {
    this.#log.info('SIGHUP: re-reading the configuration');
    this.#schedule(0, true);
  };

  private constructor(opts: {
    file?: string;
    envTarget?: RedisTarget;
    defaultPrefix: string;
    logger: Logger;
    pollMs: number;
    target: RedisTarget;
  }) {
    this.#file = opts.file;
    this.#defaultPrefix = opts.defaultPrefix;
    this.#log = opts.logger;
    this.#pollMs = opts.pollMs;
    this.#target = opts.target;
  }

  /**
   * Reads the initial target: the file when it exists and is valid; the environment's when there is no file.
   * At start-up an invalid file is fatal (thrown), as is having neither. Poll interval default 250 ms.
   */
  static async load(opts: {
    file?: string;
    envTarget?: RedisTarget;
    defaultPrefix: string;
    logger: Logger;
    pollMs?: number;
  }): Promise<RedisConfigSource> {
    let target = opts.envTarget;
    let text: string | undefined;
    if (opts.file) {
      text = await readFile(opts.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw new Error(`CONFIG_FILE ${opts.file}: ${err.message}`);
      });
      if (text !== undefined) target = parseConfigFile(text, opts.file, opts.defaultPrefix);
      else if (target)
        opts.logger.warn({ file: opts.file }, 'CONFIG_FILE does not exist (yet): using REDIS_URL until it appears');
    }
    if (!target) {
      throw new Error(
        opts.file
          ? `CONFIG_FILE ${opts.file} does not exist and neither REDIS_URL nor REDIS_CLUSTER_NODES is set`
          : 'neither REDIS_URL nor REDIS_CLUSTER_NODES is set',
      );
    }
    const source = new RedisConfigSource({ ...opts, pollMs: opts.pollMs ?? 250, target });
    source.#lastText = text;
    return source;
  }

  /**
   * The source a role's configuration describes: CONFIG_FILE when set, REDIS_URL or REDIS_CLUSTER_NODES (+
   * REDIS_KEY_PREFIX) otherwise.
   */
  static fromConfig(redis: Config['redis'], logger: Logger): Promise<RedisConfigSource> {
    return RedisConfigSource.load({
      ...(redis.configFile && { file: redis.configFile }),
      ...(redis.url && { envTarget: standaloneTarget(redis.url, redis.keyPrefix) }),
      ...(redis.cluster && { envTarget: clusterTarget(redis.cluster, redis.keyPrefix) }),
      defaultPrefix: redis.keyPrefix,
      logger,
    });
  }

  get target(): RedisTarget {
    return this.#target;
  }

  /** Why the latest file could not be used (it is still being ignored), or undefined. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  get file(): string | undefined {
    return this.#file;
  }

  /** The file's text as last read (undefined without a file): other sections than `redis` live there too. */
  get text(): string | undefined {
    return this.#lastText;
  }

  /** Calls `listener` with the file's text whenever it changes (and on SIGHUP); returns its remover. */
  onText(listener: (text: string) => void): () => void {
    this.#textListeners.add(listener);
    return () => this.#textListeners.delete(listener);
  }

  /** Starts watching; `onChange` gets each new valid target. */
  start(onChange: (target: RedisTarget) => void): void {
    if (this.#state !== 'idle') return;
    this.#state = 'watching';
    this.#onChange = onChange;
    process.on('SIGHUP', this.#onSighup);
    if (!this.#file) return;
    const dir = path.dirname(this.#file);
    try {
      // Watch the folder, not the file: renames and symlink swaps replace the file's inode.
      this.#watcher = watch(dir, { persistent: false }, () => this.#schedule(30));
      this.#watcher.on('error', (err) =>
        this.#log.warn({ err: err.message, dir }, 'fs.watch failed; the stat poll still works'),
      );
    } catch (err) {
      this.#log.warn({ err: (err as Error).message, dir }, 'fs.watch unavailable; relying on the stat poll');
    }
    this.#poll = setInterval(() => void this.#pollOnce(), this.#pollMs);
    this.#poll.unref();
  }

  /** Idempotent. */
  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    process.off('SIGHUP', this.#onSighup);
    this.#watcher?.close();
    clearInterval(this.#poll);
    clearTimeout(this.#debounce);
  }

  async #pollOnce(): Promise<void> {
    const st = await stat(this.#file!).catch(() => undefined);
    const sig = st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'missing';
    if (sig === this.#lastStat) return;
    this.#lastStat = sig;
    this.#schedule(0);
  }

  /** Editors write in several steps: a short debounce reads the file once it is whole. */
  #schedule(delayMs: number, force = false): void {
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#checking = this.#checking.then(() => this.#check(force));
    }, delayMs);
  }

  async #check(force: boolean): Promise<void> {
    if (this.#state !== 'watching' || !this.#file) return;
    const text = await readFile(this.#file, 'utf8').catch(() => undefined);
    if (text === undefined) return; // missing for a moment (mid-swap) or deleted: keep the current target
    if (text === this.#lastText && !force) return;
    this.#lastText = text;
    for (const listener of this.#textListeners) listener(text);
    let target: RedisTarget;
    try {
      target = parseConfigFile(text, this.#file, this.#defaultPrefix);
    } catch (err) {
      this.#lastError = (err as Error).message;
      this.#log.error(
        { file: this.#file, err: this.#lastError },
        'invalid config file ignored; keeping the current Redis',
      );
      return;
    }
    this.#lastError = undefined;
    if (sameTarget(target, this.#target)) return;
    this.#log.info({ from: describeTarget(this.#target), to: describeTarget(target) }, 'config file changed');
    this.#target = target;
    this.#onChange?.(target);
  }
}
