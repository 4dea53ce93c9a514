import type { AccountData } from '../gen/Backup.ts';
import { checkChatStyle, checkCustomColors } from './chat-style.ts';
import { fail, within } from './rule-error.ts';
import type { ValidationState } from './state.ts';
import { isValidUsername } from './username.ts';

// spec 3.5 "AccountData" (libsignal backup/account_data.rs). Messages are relative to
// "AccountData error: ". Enum values outside the schema count as UNKNOWN, as in libsignal.

const BACKUP_LEVEL_FREE = 200n;
const BACKUP_LEVEL_PAID = 201n;

const inRange = (v: number, lo: number, hi: number): boolean => v >= lo && v <= hi;

export function checkAccountData(a: AccountData, st: ValidationState): void {
  if (a.profileKey.length !== 32) fail('account-profile-key', 'profile key was invalid');

  if (a.username === undefined) {
    if (a.usernameLink !== undefined)
      fail('account-username-link-without-username', 'username link is present without username');
  } else {
    if (!isValidUsername(a.username)) fail('account-invalid-username', 'invalid username');
    const link = a.usernameLink;
    if (link !== undefined) {
      if (link.entropy.length !== 32) {
        fail(
          'account-username-entropy',
          `username entropy should have been 32 bytes but was ${link.entropy.length}`,
        );
      }
      if (link.serverId.length !== 16) {
        fail(
          'account-username-server-id',
          `username server ID should be a UUID but was ${link.serverId.length} bytes`,
        );
      }
    }
  }

  const s = a.accountSettings;
  if (s === undefined) fail('account-missing-settings', 'no account settings found');
  if (!inRange(s.phoneNumberSharingMode, 1, 2)) {
    fail('account-phone-sharing-unknown', 'account settings phone number sharing mode is UNKNOWN');
  }
  st.customColorIds.clear();
  within('chat style: ', () => checkCustomColors(s.customChatColors, st.customColorIds));
  const dcs = s.defaultChatStyle;
  if (dcs !== undefined) within('chat style: ', () => checkChatStyle(dcs, st.customColorIds));
  const tier = s.backupTier;
  if (tier !== undefined && tier !== BACKUP_LEVEL_FREE && tier !== BACKUP_LEVEL_PAID) {
    fail('account-unknown-backup-tier', `unknown backup tier value: ${tier}`);
  }
  if (s.optimizeOnDeviceStorage && tier !== BACKUP_LEVEL_PAID) {
    fail(
      'account-optimize-storage-without-paid-tier',
      'optimize on device storage is enabled without paid tier',
    );
  }
  const ad = s.autoDownloadSettings;
  if (ad !== undefined) {
    for (const v of [ad.images, ad.audio, ad.video, ad.documents]) {
      if (!inRange(v, 1, 3)) fail('account-auto-download-unknown', 'auto download option is UNKNOWN');
    }
  }
  if (!inRange(s.defaultSentMediaQuality, 1, 2)) {
    fail('account-sent-media-quality-unknown', 'default sent media quality is UNKNOWN');
  }
  if (!inRange(s.appTheme, 1, 3)) fail('account-app-theme-unknown', 'app theme is UNKNOWN');
  if (!inRange(s.callsUseLessDataSetting, 1, 3)) {
    fail('account-calls-use-less-data-unknown', 'calls use less data setting is UNKNOWN');
  }

  const d = a.donationSubscriberData;
  if (d !== undefined) {
    if (d.subscriberId.length !== 32) {
      fail(
        'account-subscriber-id',
        `donation subscription: subscriber ID should have 32 bytes but had ${d.subscriberId.length}`,
      );
    }
    if (d.currencyCode === '') {
      fail(
        'account-subscriber-currency',
        'donation subscription: subscriber ID was present but not the currency code',
      );
    }
  }
  const b = a.backupsSubscriberData;
  if (b !== undefined) {
    if (b.subscriberId.length !== 32) {
      fail(
        'account-subscriber-id',
        `backups subscription: subscriber ID should have 32 bytes but had ${b.subscriberId.length}`,
      );
    }
    const iap = b.iapSubscriptionId;
    if (iap === undefined || (iap.$case === 'purchaseToken' && iap.purchaseToken === '')) {
      fail('account-iap-subscription-id', 'backups subscription: missing IAP subscription ID');
    }
  }
  const android = a.androidSpecificSettings;
  if (android !== undefined && !inRange(android.navigationBarSize, 1, 2)) {
    fail('account-nav-bar-size-unknown', 'navigation bar size in Android specific settings is UNKNOWN');
  }
}
