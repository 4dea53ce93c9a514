/**
 * A pre-warmed `coffer serve`: loads the CLI and the server modules (the slow part of a start under
 * tsx), then waits for one line on stdin before running `coffer serve <args>` through the CLI's own
 * main(). Crash tests start the next server while the current one is still alive, so a restart
 * after SIGKILL costs the server's own start (open the database, recover uploads), not module loading.
 * Run: node --import tsx test-support/serve-standby.ts <serve flags...>
 */
const { main } = await import('../packages/cli/src/main.ts');
await import('@coffer/server');
process.stdout.write('standby ready\n');
process.stdin.once('data', () => {
  process.stdin.pause();
  main([process.execPath, 'coffer', 'serve', ...process.argv.slice(2)]).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`serve failed: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
});

export {};
