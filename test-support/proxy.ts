/**
 * A small TCP proxy for fault-injection tests: sits between a client and a server (or between the
 * Coffer server and PostgreSQL / S3) and can pass traffic, cut every connection (and refuse new
 * ones), stall (accept and hold bytes without forwarding), stall once exactly N more bytes flowed
 * upstream (a stall at a known point, with a record of who then closed the stalled connection), or
 * cut a connection after N bytes flowed upstream. Used by test/reliability/* (ports from the
 * security range 29000-29999).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { listenInRange } from './services.ts';

export type ProxyMode = 'pass' | 'cut' | 'stall';

/** What `stallAfterUpBytes` did: when the proxy stopped forwarding, and how the connection ended. */
export interface StallRecord {
  /** Date.now() when the last byte before the stall was forwarded. */
  at: number;
  /** Bytes forwarded client -> target over the proxy's life at that moment. */
  bytesUp: number;
  /** Which side closed the stalled connection first (undefined while it is open). */
  closedBy: 'client' | 'target' | undefined;
  /** Date.now() when it was closed. */
  closedAt: number | undefined;
}

export interface FaultProxy {
  port: number;
  url: string;
  /** Bytes forwarded client -> target over the proxy's life. */
  readonly bytesUp: number;
  /** Open client connections. */
  readonly connections: number;
  setMode(mode: ProxyMode): void;
  /** Cuts each connection once it has forwarded this many more bytes upstream (undefined = never). */
  cutAfterUpBytes(n: number | undefined): void;
  /**
   * Forwards exactly `n` more bytes upstream (counted over all connections), then switches to
   * 'stall' in the middle of whatever chunk crosses the limit (undefined = never). Deterministic,
   * unlike a `setMode('stall')` after a delay. `stalled` records it.
   */
  stallAfterUpBytes(n: number | undefined): void;
  /** The stall `stallAfterUpBytes` caused, once it happened (reset by the next call). */
  readonly stalled: StallRecord | undefined;
  /** Destroys every open connection now (mode unchanged). */
  dropAll(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(
  target: { host: string; port: number },
  range: [number, number] = [29500, 29799],
): Promise<FaultProxy> {
  let mode: ProxyMode = 'pass';
  let cutBudget: number | undefined;
  let stallBudget: number | undefined;
  let stalled: (StallRecord & { pair: object }) | undefined;
  let bytesUp = 0;
  const pairs = new Set<{ a: Socket; b: Socket }>();
  const server: Server = createServer((client) => {
    if (mode === 'cut') {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    const pair = { a: client, b: upstream };
    pairs.add(pair);
    let sent = 0;
    const done = (by?: 'client' | 'target') => {
      if (by && stalled?.pair === pair && stalled.closedBy === undefined) {
        stalled.closedBy = by;
        stalled.closedAt = Date.now();
      }
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', () => done('client'));
    upstream.on('error', () => done('target'));
    client.on('close', () => done('client'));
    upstream.on('close', () => done('target'));
    client.on('data', (whole: Buffer) => {
      if (mode === 'stall') return; // swallowed: the peer sees an idle, open connection
      let chunk = whole;
      const stallNow = stallBudget !== undefined && chunk.length >= stallBudget;
      if (stallNow) chunk = chunk.subarray(0, stallBudget);
      if (cutBudget !== undefined && sent + chunk.length > cutBudget) {
        const keep = Math.max(0, cutBudget - sent);
        if (keep > 0) upstream.write(chunk.subarray(0, keep));
        bytesUp += keep;
        done();
        return;
      }
      sent += chunk.length;
      bytesUp += chunk.length;
      if (chunk.length > 0) upstream.write(chunk);
      if (stallBudget !== undefined) stallBudget -= chunk.length;
      if (stallNow) {
        stallBudget = undefined;
        mode = 'stall';
        stalled = { at: Date.now(), bytesUp, closedBy: undefined, closedAt: undefined, pair };
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (mode === 'stall') return;
      client.write(chunk);
    });
  });
  const port = await listenInRange(server, range[0], range[1]);
  const dropAll = () => {
    for (const p of [...pairs]) {
      p.a.destroy();
      p.b.destroy();
      pairs.delete(p);
    }
  };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get bytesUp() {
      return bytesUp;
    },
    get connections() {
      return pairs.size;
    },
    setMode(m) {
      mode = m;
      if (m === 'cut') dropAll();
    },
    cutAfterUpBytes(n) {
      cutBudget = n;
    },
    stallAfterUpBytes(n) {
      stallBudget = n;
      stalled = undefined;
    },
    get stalled() {
      if (!stalled) return undefined;
      const { pair: _pair, ...record } = stalled;
      return record;
    },
    dropAll,
    close() {
      dropAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
