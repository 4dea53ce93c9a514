// Jazzer.js entry point: npx jazzer <bundle of this file> (see jazzer.soak.ts).
import { serverRequests } from './server-target.ts';

export function fuzz(data: Buffer): Promise<void> {
  return serverRequests(data);
}
