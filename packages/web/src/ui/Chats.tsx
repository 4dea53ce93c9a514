import { toHex } from '@coffer/crypto';
import { type FormEvent, type ReactNode, useEffect, useRef, useState } from 'react';
import type { ChatDb } from '../store/chat-db.ts';
import {
  type AttachmentModel,
  type ChatSummary,
  displayName,
  type RecipientModel,
  type StoredMessage,
} from '../store/model.ts';
import { formatTime, Header } from './common.tsx';

/** Runs `load` now and again whenever the store reports a change; `key` names what is loaded. */
function useStore<T>(store: ChatDb, load: () => Promise<T>, key: string): T | undefined {
  const loadRef = useRef(load);
  loadRef.current = load;
  const [value, setValue] = useState<T>();
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` changes what `load` reads
  useEffect(() => {
    let live = true;
    const reload = () => {
      loadRef.current().then(
        (v) => {
          if (live) setValue(v);
        },
        () => undefined,
      );
    };
    reload();
    store.addEventListener('change', reload);
    return () => {
      live = false;
      store.removeEventListener('change', reload);
    };
  }, [store, key]);
  return value;
}

function preview(m: StoredMessage | undefined): string {
  if (!m) return 'No messages yet';
  if (m.kind === 'deleted') return 'This message was deleted';
  if (m.kind === 'sticker') return `Sticker ${m.sticker?.emoji ?? ''}`;
  if (m.body) return m.body;
  const a = m.attachments[0];
  return a ? (a.contentType?.startsWith('image/') ? 'Photo' : 'File') : '';
}

export function ChatList({
  store,
  open,
  onSeed,
  banner,
  actions,
}: {
  store: ChatDb;
  open: (chatId: number) => void;
  onSeed: () => Promise<void>;
  banner: ReactNode;
  actions: ReactNode;
}) {
  const chats = useStore(store, () => store.summaries(), 'summaries');
  const [seeding, setSeeding] = useState(false);
  return (
    <main className="screen">
      <Header title="Chats" actions={actions} />
      {banner}
      {chats === undefined ? (
        <p className="content">Loading…</p>
      ) : chats.length === 0 ? (
        <div className="content stack">
          <p>No chats yet. This demo can fill the app with a generated history of chats and photos.</p>
          <button
            type="button"
            className="primary"
            disabled={seeding}
            onClick={() => {
              setSeeding(true);
              onSeed().finally(() => setSeeding(false));
            }}
          >
            Generate sample history
          </button>
          <p aria-live="polite">{seeding ? 'Generating chats and photos…' : ''}</p>
        </div>
      ) : (
        <ul className="chat-list" aria-label="Chats">
          {chats.map((c: ChatSummary) => (
            <li key={c.chat.id}>
              <button type="button" className="chat-row" onClick={() => open(c.chat.id)}>
                <span className="avatar" aria-hidden="true">
                  {displayName(c.recipient).slice(0, 1)}
                </span>
                <span className="chat-main">
                  <span className="chat-name">{displayName(c.recipient)}</span>
                  <span className="chat-preview">{preview(c.last)}</span>
                </span>
                <span className="chat-time">{c.last ? formatTime(c.last.dateSent) : ''}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}

function MediaImage({ store, attachment }: { store: ChatDb; attachment: AttachmentModel }) {
  const id = toHex(attachment.plaintextHash);
  const media = useStore(store, () => store.media(id), id);
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    if (!media?.blob) return;
    const u = URL.createObjectURL(media.blob);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [media]);
  const alt = attachment.caption ?? attachment.fileName ?? 'Photo';
  if (!attachment.contentType?.startsWith('image/')) {
    return <p className="file">📄 {attachment.fileName ?? 'File'}</p>;
  }
  if (!url) {
    return (
      <div
        className="media-placeholder"
        role="img"
        aria-label={`${alt} (downloading)`}
        style={{ aspectRatio: `${attachment.width ?? 4} / ${attachment.height ?? 3}` }}
      >
        Downloading photo…
      </div>
    );
  }
  return (
    <img
      className="media"
      src={url}
      alt={alt}
      width={attachment.width ?? undefined}
      height={attachment.height ?? undefined}
    />
  );
}

export function Conversation({ store, chatId, back }: { store: ChatDb; chatId: number; back: () => void }) {
  const data = useStore(
    store,
    async () => {
      const [summaries, recipients, messages] = await Promise.all([
        store.summaries(),
        store.recipients(),
        store.messages(chatId),
      ]);
      return { summary: summaries.find((s) => s.chat.id === chatId), recipients, messages };
    },
    String(chatId),
  );
  const [text, setText] = useState('');
  const endRef = useRef<HTMLDivElement>(null);
  const count = data?.messages.length ?? 0;
  useEffect(() => {
    if (count > 0) endRef.current?.scrollIntoView({ block: 'end' });
  }, [count]);

  const selfId = data?.recipients.find((r) => r.kind === 'self')?.id ?? 1;

  async function send(ev: FormEvent) {
    ev.preventDefault();
    const body = text.trim();
    if (!body) return;
    const last = data?.messages.at(-1)?.dateSent ?? 0;
    // dateSent is unique per chat (the store's index relies on it).
    const now = Math.max(Date.now(), last + 1);
    await store.addMessage({
      chatId,
      authorId: selfId,
      dateSent: now,
      kind: 'standard',
      outgoing: true,
      dateReceived: now,
      dateServerSent: null,
      read: true,
      sealedSender: false,
      body,
      quote: null,
      sticker: null,
      reactions: [],
      revisions: [],
      attachments: [],
    });
    setText('');
  }

  const byId = new Map<number, RecipientModel>((data?.recipients ?? []).map((r) => [r.id, r]));
  const isGroup = data?.summary?.recipient.kind === 'group';
  return (
    <main className="screen conversation">
      <Header title={data?.summary ? displayName(data.summary.recipient) : 'Chat'} back={back} />
      <ol className="messages" aria-label="Messages">
        {(data?.messages ?? []).map((m) => (
          <li key={m.id} className={`message ${m.outgoing ? 'outgoing' : 'incoming'}`}>
            {isGroup && !m.outgoing ? (
              <span className="author">{displayName(byId.get(m.authorId))}</span>
            ) : null}
            {m.quote ? (
              <blockquote className="quote">
                <span className="author">{displayName(byId.get(m.quote.authorId))}</span>
                {m.quote.body ?? ''}
              </blockquote>
            ) : null}
            {m.kind === 'deleted' ? <p className="deleted">This message was deleted</p> : null}
            {m.kind === 'sticker' ? (
              <p className="sticker" role="img" aria-label={`Sticker ${m.sticker?.emoji ?? ''}`}>
                {m.sticker?.emoji ?? '🖼️'}
              </p>
            ) : (
              m.attachments.map((a) => (
                <MediaImage key={toHex(a.plaintextHash)} store={store} attachment={a} />
              ))
            )}
            {m.body ? <p>{m.body}</p> : null}
            <span className="meta">
              {m.revisions.length > 0 ? <span>edited</span> : null}
              <time dateTime={new Date(m.dateSent).toISOString()}>{formatTime(m.dateSent)}</time>
              {m.reactions.map((r) => (
                <span key={`${r.authorId}-${r.sentTimestamp}`} className="reaction">
                  {r.emoji}
                </span>
              ))}
            </span>
          </li>
        ))}
      </ol>
      <div ref={endRef} />
      <form className="composer" onSubmit={send}>
        <label htmlFor="composer" className="visually-hidden">
          Message
        </label>
        <input
          id="composer"
          placeholder="Message"
          autoComplete="off"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit" className="primary" disabled={!text.trim()}>
          Send
        </button>
      </form>
    </main>
  );
}
