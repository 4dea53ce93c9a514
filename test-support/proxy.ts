/**
 * A small TCP proxy for fault-injection tests: sits between a client and a server (or between the
 * Coffer server and PostgreSQL / S3) and can pass traffic, cut every connection (and refuse new
 * ones), stall (accept and hold bytes without forwarding), or cut a connection after N bytes
 * flowed upstream. Used by test/reliability/* (ports from the security range 29000-29999).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { listenInRange } from './services.ts';

export type ProxyMode = 'pass' | 'cut' | 'stall';

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
    const done = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', done);
    upstream.on('close', done);
    client.on('data', (chunk: Buffer) => {
      if (mode === 'stall') return; // swallowed: the peer sees an idle, open connection
      if (cutBudget !== undefined && sent + chunk.length > cutBudget) {
        const keep = Math.max(0, cutBudget - sent);
        if (keep > 0) upstream.write(chunk.subarray(0, keep));
        bytesUp += keep;
        done();
        return;
      }
      sent += chunk.length;
      bytesUp += chunk.length;
      upstream.write(chunk);
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
    dropAll,
    close() {
      dropAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
