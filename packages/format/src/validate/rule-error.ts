/**
 * Internal failure raised by the rule checks. It carries a stable rule name and a text that mirrors
 * the meaning (and, where practical, the wording) of libsignal's message-backup validator, so that
 * reports can be compared with the reference. BackupValidator turns it into a CofferError with the
 * frame location; it never leaves this folder.
 */
export class RuleError extends Error {
  rule: string;
  text: string;
  constructor(rule: string, text: string) {
    super(text);
    this.rule = rule;
    this.text = text;
  }
}

export function fail(rule: string, text: string): never {
  throw new RuleError(rule, text);
}

/**
 * Runs `fn`; if a rule fails inside, prefixes its text with `prefix` (libsignal nests its error
 * messages the same way: "chat item 12345: attachment: file pointer: ..."). The non-failing path
 * costs only the call.
 */
export function within<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RuleError) e.text = prefix + e.text;
    throw e;
  }
}

/** Adds a prefix to a RuleError being re-thrown by the caller's own catch. */
export function prefixError(e: unknown, prefix: string): unknown {
  if (e instanceof RuleError) e.text = prefix + e.text;
  return e;
}

export const recipientIdText = (id: bigint): string => `RecipientId(${id})`;
export const chatIdText = (id: bigint): string => `ChatId(${id})`;
