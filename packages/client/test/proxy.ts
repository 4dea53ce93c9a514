// A loopback TCP proxy for fault tests: throttles client->server bytes (so an upload is still in
// flight when we kill the server) and can cut a server->client response after N bytes (a dropped
// download).
import net from 'node:net';

export interface Proxy {
  port: number;
  url: string;
  /** Cut the first connection whose server->client bytes pass `afterBytes`, once. */
  cutNextDownload(afterBytes: number): void;
  cuts: number;
  /** While true, every new connection gets an HTTP 503 (server overloaded / maintenance). */
  unavailable: boolean;
  close(): Promise<void>;
}

export async function startProxy(
  target: { host: string; port: number },
  opts: { port: number; upBytesPerSecond?: number },
): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  let cutAfter: number | undefined;
  const state = { cuts: 0, unavailable: false };
  const server = net.createServer((client) => {
    if (state.unavailable) {
      sockets.add(client);
      client.on('error', () => {});
      client.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    // client -> server, optionally throttled
    const rate = opts.upBytesPerSecond;
    client.on('data', (chunk: Buffer) => {
      if (!rate) {
        upstream.write(chunk);
        return;
      }
      client.pause();
      upstream.write(chunk);
      setTimeout(() => client.resume(), Math.ceil((chunk.length / rate) * 1000));
    });
    // server -> client, optionally cut once
    let down = 0;
    upstream.on('data', (chunk: Buffer) => {
      down += chunk.length;
      const cutting = cutAfter;
      if (cutting !== undefined && down > cutting) {
        client.write(chunk.subarray(0, chunk.length - (down - cutting)));
        cutAfter = undefined;
        state.cuts++;
        end();
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((r) => server.listen(opts.port, '127.0.0.1', r));
  return {
    port: opts.port,
    url: `http://127.0.0.1:${opts.port}`,
    cutNextDownload(afterBytes: number) {
      cutAfter = afterBytes;
    },
    get cuts() {
      return state.cuts;
    },
    get unavailable() {
      return state.unavailable;
    },
    set unavailable(v: boolean) {
      state.unavailable = v;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
