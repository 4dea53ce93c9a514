/**
 * A real Coffer server, in-process, serving the built bundle at `/` with the dev outbox on.
 * Filled in against @coffer/server's public entry (see its README).
 */
export interface RunningServer {
  url: string;
  /** True while the server holds a current messages backup (checked in its metadata, not via the UI). */
  hasMessagesBackup(): Promise<boolean>;
  close(): Promise<void>;
}

export async function startServer(_opts: { webDist: string; port: number }): Promise<RunningServer> {
  throw new Error('@coffer/server does not export a server factory yet');
}
