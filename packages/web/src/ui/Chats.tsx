import { type FormEvent, type ReactNode, useEffect, useRef, useState } from 'react';
import type { ChatDb } from '../store/chat-db.ts';
import type { AttachmentRecord, ChatSummary, MessageRecord, RecipientRecord } from '../store/model.ts';
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

function preview(m: MessageRecord | undefined): string {
  if (!m) return 'No messages yet';
  if (m.text) return m.text;
  return m.attachments.length > 0 ? 'Photo' : '';
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
                  {c.recipient.name.slice(0, 1)}
                </span>
                <span className="chat-main">
                  <span className="chat-name">{c.recipient.name}</span>
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

function MediaImage({ store, attachment }: { store: ChatDb; attachment: AttachmentRecord }) {
  const media = useStore(store, () => store.media(attachment.mediaId), attachment.mediaId);
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    if (!media?.blob) return;
    const u = URL.createObjectURL(media.blob);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [media]);
  const alt = attachment.caption ?? attachment.fileName ?? 'Photo';
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
  return <img className="media" src={url} alt={alt} width={attachment.width} height={attachment.height} />;
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

  async function send(ev: FormEvent) {
    ev.preventDefault();
    const body = text.trim();
    if (!body) return;
    const last = data?.messages.at(-1)?.dateSent ?? 0;
    // dateSent is unique per chat (the store's index relies on it).
    await store.addMessage({
      chatId,
      authorId: 1,
      dateSent: Math.max(Date.now(), last + 1),
      direction: 'outgoing',
      text: body,
      attachments: [],
    });
    setText('');
  }

  const byId = new Map<number, RecipientRecord>((data?.recipients ?? []).map((r) => [r.id, r]));
  const isGroup = data?.summary?.recipient.kind === 'group';
  return (
    <main className="screen conversation">
      <Header title={data?.summary?.recipient.name ?? 'Chat'} back={back} />
      <ol className="messages" aria-label="Messages">
        {(data?.messages ?? []).map((m) => (
          <li key={m.id} className={`message ${m.direction}`}>
            {isGroup && m.direction === 'incoming' ? (
              <span className="author">{byId.get(m.authorId)?.name ?? 'Unknown'}</span>
            ) : null}
            {m.attachments.map((a) => (
              <MediaImage key={a.mediaId} store={store} attachment={a} />
            ))}
            {m.text ? <p>{m.text}</p> : null}
            <span className="meta">
              <time dateTime={new Date(m.dateSent).toISOString()}>{formatTime(m.dateSent)}</time>
              {m.reactions?.map((r) => (
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
