import { idKey } from './ids.ts';
import type { ValidationPurpose } from './purpose.ts';

/**
 * What the rule checks may consult about earlier frames. Everything here is bounded by the number
 * of recipients, chats and custom colours, never by the number of chat items.
 */
export class ValidationState {
  readonly purpose: ValidationPurpose;
  backupTimeMs = 0n;
  /** recipient id key -> kind | flags (see ids.ts) */
  readonly recipients = new Map<number | string, number>();
  /** custom chat colour ids declared in AccountData.accountSettings.customChatColors */
  readonly customColorIds = new Set<bigint>();

  constructor(purpose: ValidationPurpose) {
    this.purpose = purpose;
  }

  recipient(id: bigint): number | undefined {
    return this.recipients.get(idKey(id));
  }
}
