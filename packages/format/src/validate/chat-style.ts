import type { ChatStyle, ChatStyle_CustomChatColor } from '../gen/Backup.ts';
import { checkFilePointer } from './file-pointer.ts';
import { fail, within } from './rule-error.ts';

// libsignal chat/chat_style.rs. Messages are relative; callers prefix "chat style: " / "style error: ".

const hex8 = (v: number): string => (v >>> 0).toString(16).toUpperCase().padStart(8, '0');

function checkOpaque(color: number): void {
  if (color >>> 24 !== 0xff)
    fail('chat-color-not-opaque', `chat color was not opaque (ARGB 0x${hex8(color)})`);
}

/** Validates AccountSettings.customChatColors and returns their ids (for later references). */
export function checkCustomColors(colors: ChatStyle_CustomChatColor[], into: Set<bigint>): void {
  for (const c of colors) {
    const color = c.color;
    if (color === undefined) {
      fail(
        'chat-style-no-custom-color',
        `CustomChatColor.color is a oneof but is empty with ${unknownText(c)}`,
      );
    }
    if (color.$case === 'solid') {
      checkOpaque(color.solid);
    } else {
      const g = color.gradient;
      const cc = g.colors.length;
      const pc = g.positions.length;
      if (cc !== pc) {
        fail('chat-style-gradient-mismatch', `found ${cc} colors but ${pc} positions in gradient`);
      }
      if (cc === 0) fail('chat-style-gradient-empty', 'found 0 colors and 0 positions in gradient');
      const p0 = g.positions[0];
      const p1 = g.positions[1];
      if (cc !== 2 || !((p0 === 0 && p1 === 1) || (p0 === 1 && p1 === 0))) {
        fail('chat-style-unsupported-gradient', 'only simple gradients from 0.0 to 1.0 are permitted');
      }
      for (const col of g.colors) checkOpaque(col);
    }
    if (c.id === 0n) fail('chat-style-invalid-custom-color-id', '0 is not a valid custom color ID');
    if (into.has(c.id)) fail('chat-style-duplicate-custom-color-id', `duplicate custom color ID ${c.id}`);
    into.add(c.id);
  }
}

export function checkChatStyle(style: ChatStyle, customColorIds: ReadonlySet<bigint>): void {
  const w = style.wallpaper;
  if (w !== undefined) {
    if (w.$case === 'wallpaperPreset') {
      // 0 = UNKNOWN_WALLPAPER_PRESET; values outside the enum read as UNKNOWN as well
      if (!(w.wallpaperPreset >= 1 && w.wallpaperPreset <= 21)) {
        fail('chat-style-unknown-wallpaper', 'wallpaper preset was UNKNOWN');
      }
    } else {
      within('wallpaper photo: ', () => checkFilePointer(w.wallpaperPhoto));
    }
  }
  const b = style.bubbleColor;
  if (b === undefined) {
    fail(
      'chat-style-no-bubble-color',
      `ChatStyle.bubbleColor is a oneof but is empty with ${unknownText(style)}`,
    );
  }
  if (b.$case === 'bubbleColorPreset') {
    if (!(b.bubbleColorPreset >= 1 && b.bubbleColorPreset <= 22)) {
      fail('chat-style-unknown-bubble-color', 'bubble preset was UNKNOWN');
    }
  } else if (b.$case === 'customColorId') {
    if (!customColorIds.has(b.customColorId)) {
      fail('chat-style-unknown-custom-color', `referenced unknown custom color ID ${b.customColorId}`);
    }
  }
}

export function unknownText(m: { _unknownFields?: Record<number, Uint8Array[]> | undefined }): string {
  const u = m._unknownFields;
  if (u !== undefined) for (const _ in u) return 'unknown fields';
  return 'no unknown fields';
}
