import type { Deps } from '../../../../src/application/deps';
import type { UseCaseSettings } from '../../../../src/application/settings';
import { MemoryItemHistory } from '../../../helpers/memory-history';
import { FakeAttachmentLinks } from './attachment-links';
import { MemoryAttachmentStore } from './attachment-store';
import { FakeClock } from './clock';
import { RecordingLogger } from './logger';
import { FixedParser } from './message-parser';
import { RecordingMessaging } from './messaging';
import { RecordingMetrics } from './metrics';
import { MemoryStateStore } from './state-store';

export const ENTRANCE = 'support';
export const MAX_PARKED = 3;
export const MAX_PARK_SECONDS = 3600;
export const RETRY_SECONDS = 30;

export const settings: UseCaseSettings = {
  taskKey: 'WorkItemTask',
  entrances: {
    [ENTRANCE]: { maxParked: MAX_PARKED, maxParkSeconds: MAX_PARK_SECONDS },
    loans: { maxParked: 100, maxParkSeconds: MAX_PARK_SECONDS },
  },
  park: { retrySeconds: RETRY_SECONDS, flushLeaseSeconds: 30 },
  notifications: { leaseSeconds: 30 },
  social: {},
  attachmentTimeoutMs: 1000,
};

/** Ids like the service's (a contactId is `wi-<uuid>`), counted so that a test's ids are the same on every run. */
export function counterIds(): () => string {
  let n = 0;
  return () => `00000000-0000-4000-8000-${(++n).toString(16).padStart(12, '0')}`;
}

/** Every port faked in memory, wired into Deps the way main.ts wires the real adapters. No tracing (off). */
export function testbed(opts: { afterEndSeconds?: number } = {}) {
  const clock = new FakeClock();
  const store = new MemoryStateStore(clock.now, opts.afterEndSeconds);
  const messaging = new RecordingMessaging();
  const parser = new FixedParser();
  const metrics = new RecordingMetrics();
  const log = new RecordingLogger();
  const attachments = new MemoryAttachmentStore(clock.now);
  const history = new MemoryItemHistory();
  const d: Deps = {
    cfg: settings,
    store,
    attachments,
    attachmentLinks: new FakeAttachmentLinks(),
    messaging,
    parser,
    metrics,
    log,
    now: clock.now,
    newId: counterIds(),
    history,
    instanceId: 'test-instance',
  };
  return { d, clock, store, messaging, parser, metrics, log, attachments, history };
}

export type Testbed = ReturnType<typeof testbed>;
