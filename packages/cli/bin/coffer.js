#!/usr/bin/env node
// The packages ship TypeScript sources ("internal packages"); tsx compiles them on load so the
// CLI, the server and the tests all run the same code with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
