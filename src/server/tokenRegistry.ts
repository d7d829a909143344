/**
 * The tokens the service accepts now, and their rotation without a restart: the config file's `token(s)` are
 * re-read on SIGHUP and when the config file or a token file it names changes. A reload that fails (bad YAML,
 * a short token file, ...) keeps the tokens in force and is reported; a good one replaces them at once, so a
 * removed token is refused from the next request on.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Authenticator } from './auth.js';
import { readConfigTokens, type ApiToken } from '../service/config.js';
import { ensureDataDirToken } from './token.js';

export interface TokenRegistryOptions {
  /** Tokens from the start-up config (command line and config file). */
  tokens: ApiToken[];
  configPath?: string;
  dataDir: string;
  notice: (line: string) => void;
  /** Waits this long after a file event before re-reading (editors write in several steps). */
  debounceMs?: number;
}

export class TokenRegistry {
  private auth: Authenticator;
  private tokens: ApiToken[];
  private readonly watchers = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | undefined;
  private readonly onHangup = (): void => {
    this.reload('SIGHUP');
  };

  constructor(private readonly o: TokenRegistryOptions) {
    this.tokens = this.withDefault(o.tokens);
    this.auth = new Authenticator(this.tokens);
  }

  get authenticator(): Authenticator {
    return this.auth;
  }

  /** Starts listening for SIGHUP and file changes (only when tokens come from a config file). */
  start(): void {
    process.on('SIGHUP', this.onHangup);
    this.rewatch();
  }

  close(): void {
    process.off('SIGHUP', this.onHangup);
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  /** Re-reads the config file's tokens; returns false (and tells why) when they could not be read. */
  reload(why: string): boolean {
    if (!this.o.configPath) return true;
    let fresh: ApiToken[];
    try {
      fresh = this.withDefault([...this.o.tokens.filter((t) => t.source === 'cli'), ...readConfigTokens(this.o.configPath)]);
    } catch (err) {
      this.o.notice(`procwatch: tokens not reloaded (${why}), the previous ones stay in force: ${(err as Error).message}`);
      return false;
    }
    this.tokens = fresh;
    this.auth = new Authenticator(fresh);
    this.o.notice(`procwatch: tokens reloaded (${why}): ${fresh.map((t) => t.name).join(', ')}`);
    this.rewatch();
    return true;
  }

  /** No token configured: the data-directory token (generated on first start) holds admin. */
  private withDefault(tokens: ApiToken[]): ApiToken[] {
    if (tokens.length > 0) return tokens;
    const t = ensureDataDirToken(this.o.dataDir);
    if (t.generated) this.o.notice(`procwatch: generated an API token (kept in ${t.path}):\n  ${t.token}`);
    return [{ name: 'default', token: t.token, scopes: ['admin'], file: t.path }];
  }

  /** Watches the directories of the config file and token files (editors and `mv` replace files). */
  private rewatch(): void {
    if (!this.o.configPath) return;
    const files = [this.o.configPath, ...this.tokens.flatMap((t) => (t.file ? [t.file] : []))];
    const byDir = new Map<string, Set<string>>();
    for (const f of files) {
      const set = byDir.get(dirname(f)) ?? new Set<string>();
      set.add(basename(f));
      byDir.set(dirname(f), set);
    }
    for (const [dir, w] of this.watchers) {
      if (!byDir.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const [dir, names] of byDir) {
      this.watchers.get(dir)?.close();
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || names.has(String(name))) this.schedule();
        });
        w.on('error', (err) => this.o.notice(`procwatch: watching ${dir} for token changes stopped: ${err.message} (SIGHUP still reloads)`));
        this.watchers.set(dir, w);
      } catch (err) {
        this.o.notice(`procwatch: cannot watch ${dir} for token changes: ${(err as Error).message} (SIGHUP still reloads)`);
      }
    }
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reload('file changed');
    }, this.o.debounceMs ?? 200);
    this.timer.unref();
  }
}
