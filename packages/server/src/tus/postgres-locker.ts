/**
 * A tus Locker shared through PostgreSQL, so that with several server processes behind a load
 * balancer two requests never write one upload at once, whichever processes they reach.
 *
 * - In-process exclusion and preemption: @tus/server's MemoryLocker (a newer request for an upload
 *   asks the current holder in this process to finish, as the tus spec recommends).
 * - Across processes: a session-level advisory lock, pg_try_advisory_lock(hash('coffer:tus:' || id)),
 *   taken on one dedicated connection per process. A process that wants a lock held elsewhere sends
 *   NOTIFY coffer_tus_release '<id>'; the holding process hears it (LISTEN on the same connection)
 *   and asks its request to finish, exactly like the in-process case. Then it polls until it gets
 *   the lock or its timeout passes (ERR_LOCK_TIMEOUT, which tus answers with 500: clients retry).
 * - If the connection drops, PostgreSQL has released every lock of this process: all holders are
 *   told to stop at once, and the next lock opens a new connection. A crashed process likewise
 *   releases its locks with its session, so an upload never stays locked by a dead process.
 */
import { ERRORS, type Lock, type Locker, MemoryLocker, type RequestRelease } from '@tus/server';
import pg from 'pg';
import { postgresPoolConfig } from '../db/postgres-dialect.ts';

const CHANNEL = 'coffer_tus_release';

export interface PostgresLockerOptions {
  /** How long a request waits for a lock before giving up (default 30 s, as MemoryLocker). */
  acquireLockTimeout?: number;
  /** Poll interval while another process holds the lock (default 50 ms). */
  pollMs?: number;
  /** Reports connection problems (never with the URL). */
  onError?: (err: Error) => void;
}

interface Session {
  client: pg.Client;
  generation: number;
}

export class PostgresLocker implements Locker {
  readonly #config: pg.ClientConfig;
  readonly #memory: MemoryLocker;
  readonly timeout: number;
  readonly pollMs: number;
  readonly #onError: (err: Error) => void;
  /** Upload ids whose advisory lock this process holds, with the callback that stops the holder. */
  readonly #holders = new Map<string, RequestRelease>();
  #session: Promise<Session> | undefined;
  #generation = 0;
  #closed = false;

  constructor(url: string, opts: PostgresLockerOptions = {}) {
    const { max: _max, idleTimeoutMillis: _idle, ...config } = postgresPoolConfig(url);
    this.#config = config;
    this.timeout = opts.acquireLockTimeout ?? 30_000;
    this.pollMs = opts.pollMs ?? 50;
    this.#memory = new MemoryLocker({ acquireLockTimeout: this.timeout });
    this.#onError = opts.onError ?? (() => {});
  }

  newLock(id: string): Lock {
    return new PostgresLock(id, this, this.#memory.newLock(id));
  }

  /** The connection that holds this process's locks (opened on first use, reopened after a drop). */
  session(): Promise<Session> {
    if (this.#closed) return Promise.reject(new Error('the tus locker is closed'));
    this.#session ??= this.#connect();
    return this.#session;
  }

  async #connect(): Promise<Session> {
    const client = new pg.Client(this.#config);
    const generation = ++this.#generation;
    const lost = (err?: Error): void => {
      if (generation !== this.#generation || this.#closed) return;
      this.#generation++;
      this.#session = undefined;
      if (err) this.#onError(err);
      // PostgreSQL released every advisory lock of the dead session: stop all writers now.
      for (const release of this.#holders.values()) void release();
      this.#holders.clear();
      client.end().catch(() => {});
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      const release = this.#holders.get(msg.payload);
      if (release) void release();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      this.#session = undefined;
      client.end().catch(() => {});
      throw err;
    }
    return { client, generation };
  }

  /** True if this process now holds the advisory lock of `id`. */
  async tryLock(id: string, release: RequestRelease): Promise<{ ok: boolean; generation: number }> {
    const s = await this.session();
    const r = await s.client.query<{ ok: boolean }>(
      "select pg_try_advisory_lock(hashtextextended('coffer:tus:' || $1, 0)) as ok",
      [id],
    );
    const ok = r.rows[0]?.ok === true;
    if (ok) this.#holders.set(id, release);
    return { ok, generation: s.generation };
  }

  /** Asks whichever process holds `id` to let go. */
  async requestRelease(id: string): Promise<void> {
    const s = await this.session();
    await s.client.query('select pg_notify($1, $2)', [CHANNEL, id]);
  }

  async unlock(id: string, generation: number): Promise<void> {
    this.#holders.delete(id);
    // After a reconnect the old session's locks are already gone; nothing to release.
    if (generation !== this.#generation || !this.#session) return;
    const s = await this.#session;
    await s.client.query("select pg_advisory_unlock(hashtextextended('coffer:tus:' || $1, 0))", [id]);
  }

  /** Ids this process holds right now (for tests and metrics). */
  held(): string[] {
    return [...this.#holders.keys()];
  }

  async close(): Promise<void> {
    this.#closed = true;
    const s = this.#session;
    this.#session = undefined;
    this.#holders.clear();
    if (s) await (await s.catch(() => undefined))?.client.end().catch(() => {});
  }
}

class PostgresLock implements Lock {
  #generation = -1;

  constructor(
    readonly id: string,
    readonly locker: PostgresLocker,
    readonly memory: Lock,
  ) {}

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    const deadline = Date.now() + this.locker.timeout;
    // First within this process (MemoryLocker preempts a local holder), then across processes.
    await this.memory.lock(signal, requestRelease);
    try {
      let lastNotify = 0;
      for (;;) {
        const { ok, generation } = await this.locker.tryLock(this.id, requestRelease);
        if (ok) {
          this.#generation = generation;
          return;
        }
        if (signal.aborted || Date.now() >= deadline) throw ERRORS.ERR_LOCK_TIMEOUT;
        // Held by another process: ask it to finish (again every second, in case it missed it).
        if (Date.now() - lastNotify >= 1000) {
          lastNotify = Date.now();
          await this.locker.requestRelease(this.id);
        }
        await sleep(this.locker.pollMs, signal);
      }
    } catch (err) {
      await this.memory.unlock().catch(() => {});
      throw err;
    }
  }

  async unlock(): Promise<void> {
    try {
      await this.locker.unlock(this.id, this.#generation);
    } finally {
      await this.memory.unlock();
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
