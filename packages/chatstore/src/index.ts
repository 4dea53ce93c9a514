// @coffer/chatstore: the reference chat database (SQLite, Node) and a deterministic sample-history
// generator (browser-safe), with a lossless mapping to and from Backup.proto frames.
export { ERROR_CODES } from './errors.ts';
export {
  accountFrame,
  chatFrame,
  chatItemFrame,
  type ImportedRow,
  recipientFrame,
  rowFromFrame,
  stickerPackFrame,
} from './frames.ts';
export { type GenerateOptions, type GenerateSummary, generateHistory, type HistorySink } from './generate.ts';
export type {
  AccountModel,
  AccountSettingsModel,
  AttachmentModel,
  ChatModel,
  MediaRef,
  MessageModel,
  ReactionModel,
  RecipientModel,
  RevisionModel,
  StickerPackModel,
  StoreCounts,
} from './model.ts';
export { SeededRandom } from './rng.ts';
export {
  FrameImportSession,
  type ImportSummary,
  SqliteChatStore,
  SqliteModelImport,
} from './sqlite-chat-store.ts';
export { generateIntoStore } from './sqlite-generate.ts';
