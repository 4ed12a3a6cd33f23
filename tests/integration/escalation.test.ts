import type { CollectedEvent, CollectedReceipt } from '../helpers/amqp-client';
import { Fixture } from '../helpers/fixture';
import { testRedisClient } from '../helpers/redis';
import type { ServiceHandle } from '../helpers/service';
import { sleep, waitUntil } from '../helpers/wait';
import { holdXml, newExternalId, resumeXml, updateXml, workItemXml } from '../helpers/work-items';

/**
 * Contract 1.2 "Task types" escalation against the real broker, Redis and service (built dist/): each rule at its time
 * (within 5 s) gives a routed item one contact.updated (changed priority, reason escalation), with two instances and
 * across a stop; a waiting item's stored priority rises without an event; a sender's update moving dueAt moves the
 * rules. Each rule's lateness (the event's createdAt − the rule's time) is printed.
 */

jest.setTimeout(120_000);
const WAIT_MS = 20_000;
/** The contract's bound on a timer's lateness. */
const ON_TIME_MS = 5_000;
const TASK = 'escalating';
/** Rules relative to dueAt: 3 s before it priority 7, at it 9. */
const BEFORE_MS = 3_000;

const f = new Fixture({
  config: {
    taskTypes: {
      [TASK]: {
        escalation: [
          { before: 'PT3S', priority: 7 },
          { after: 'PT0S', priority: 9 },
        ],
      },
    },
  },
});
let second: ServiceHandle | undefined;
const late: Record<string, number[]> = {};
const measure = (name: string, ms: number): void => void (late[name] ??= []).push(ms);

beforeAll(() => f.setup(), 60_000);
afterAll(async () => {
  await second?.stop().catch(() => undefined);
  await f.teardown();
  const line = Object.entries(late)
    .map(([k, v]) => `${k}: ${v.map((x) => Math.round(x)).join(', ')} ms`)
    .join('; ');
  console.log(`escalation lateness: ${line}`);
}, 60_000);

/** RFC 3339 without milliseconds, `ms` from now. */
const at = (ms: number): string => new Date(Date.now() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
let seq = 0;

async function send(xml: string): Promise<CollectedReceipt> {
  const correlationId = `esc-${++seq}`;
  await f.client.publishWorkItem(xml, { replyTo: true, correlationId });
  const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === correlationId);
  return r;
}

async function item(
  dueAt: string,
  fields: Parameters<typeof workItemXml>[0] = {},
): Promise<{ externalId: string; contactId: string; receipt: CollectedReceipt }> {
  const externalId = newExternalId('ESC');
  const receipt = await send(workItemXml({ externalId, entrance: 'loans', taskType: TASK, priority: 5, dueAt, ...fields }));
  return { externalId, contactId: receipt.contactId!, receipt };
}

const eventsOf = (contactId: string, type: string): CollectedEvent[] =>
  f.client.events.filter((e) => e.event.contactId === contactId && e.event.type === type);
const escalations = (contactId: string): CollectedEvent[] =>
  eventsOf(contactId, 'contact.updated').filter((e) => e.event.reason === 'escalation');

function waitForEscalation(contactId: string, priority: number): Promise<CollectedEvent> {
  return f.client
    .waitForEvents(
      1,
      WAIT_MS,
      (e) =>
        e.event.contactId === contactId &&
        e.event.type === 'contact.updated' &&
        e.event.reason === 'escalation' &&
        e.event.priority === priority,
    )
    .then(([e]) => e);
}

/** The event's createdAt − the rule's time: within [0, 5 s). */
function expectOnTime(e: CollectedEvent, ruleMs: number, name: string): void {
  const ms = Date.parse(String(e.event.createdAt)) - ruleMs;
  measure(name, ms);
  expect(ms).toBeGreaterThanOrEqual(0);
  expect(ms).toBeLessThan(ON_TIME_MS);
}

interface Step {
  step: string;
  reason?: string;
  state?: string;
  changed?: string[];
}
const steps = async (contactId: string): Promise<Step[]> => (await f.api<{ steps: Step[] }>(`/api/items/${contactId}/history`)).steps;
const storedPriority = async (contactId: string): Promise<number | undefined> =>
  (await f.api<{ items: { contactId: string; priority: number }[] }>('/api/items?limit=500')).items.find((i) => i.contactId === contactId)
    ?.priority;
const metrics = async () => (await fetch(`${f.svc.baseUrl}/metrics`)).text();

it('a routed item: each rule within 5 s of its time, one contact.updated each (changed priority, reason escalation, no revision)', async () => {
  const dueAt = at(7_000);
  const dueMs = Date.parse(dueAt);
  const { contactId, receipt } = await item(dueAt);
  expect(receipt.status).toBe('accepted');
  const [created] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId && e.event.type === 'contact.created');
  expect(created.event.priority).toBe(5);

  const first = await waitForEscalation(contactId, 7);
  expect(first.routingKey).toBe('contact.updated.loans');
  expect(first.event).toMatchObject({ changed: ['priority'], reason: 'escalation', taskType: TASK, dueAt });
  expect(first.event).not.toHaveProperty('revision');
  expectOnTime(first, dueMs - BEFORE_MS, 'routed, before PT3S');
  const second9 = await waitForEscalation(contactId, 9);
  expectOnTime(second9, dueMs, 'routed, after PT0S');
  await sleep(2_000);
  expect(escalations(contactId).map((e) => e.event.priority)).toEqual([7, 9]);

  const esc = (await steps(contactId)).filter((s) => s.step === 'escalated');
  expect(esc).toEqual([
    expect.objectContaining({ state: 'routed', changed: ['priority'], reason: 'priority 5 → 7 (before PT3S); contact.updated published' }),
    expect.objectContaining({ state: 'routed', reason: 'priority 7 → 9 (after PT0S); contact.updated published' }),
  ]);
  expect(await storedPriority(contactId)).toBe(9);
  expect(await metrics()).toMatch(new RegExp(`^workitem_escalations_total\\{task_type="${TASK}",entrance="loans"\\} 2$`, 'm'));
});

it('rules already passed on arrival: contact.created carries the raised priority, no contact.updated', async () => {
  const { contactId } = await item(at(-60_000));
  const [created] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId && e.event.type === 'contact.created');
  expect(created.event.priority).toBe(9);
  await sleep(3_000);
  expect(eventsOf(contactId, 'contact.updated')).toEqual([]);
  expect((await steps(contactId)).map((s) => s.step)).toEqual(expect.arrayContaining(['received', 'escalated', 'accepted']));
});

it('a parked item: its stored priority rises without an event; its later contact.created carries it', async () => {
  await f.setEntrance('loans', false);
  try {
    // Its first rule in 5 s (while parked), the second 3 s later (routed by then).
    const dueAt = at(8_000);
    const { contactId, receipt } = await item(dueAt);
    expect(receipt.status).toBe('buffered');
    await waitUntil(async () => (await storedPriority(contactId)) === 7, {
      timeoutMs: WAIT_MS,
      describe: 'the stored priority raised to 7',
    });
    const step = (await steps(contactId)).find((s) => s.step === 'escalated');
    expect(step).toMatchObject({ state: 'buffered', reason: 'priority 5 → 7 (before PT3S); buffered: no event' });
    await f.setEntrance('loans', true);
    const [created] = await f.client.waitForEvents(
      1,
      WAIT_MS,
      (e) => e.event.contactId === contactId && e.event.type === 'contact.created',
    );
    expect(created.event.priority).toBeGreaterThanOrEqual(7);
    // Its second rule comes after it was routed: then an event.
    await waitForEscalation(contactId, 9);
    expect(escalations(contactId).map((e) => e.event.priority)).toEqual([9]);
  } finally {
    await f.setEntrance('loans', true);
  }
});

it('a held item: the rule applies while held (no event); its resumed contact.created carries the priority', async () => {
  const dueAt = at(5_000);
  const { externalId, contactId } = await item(dueAt);
  await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId && e.event.type === 'contact.created');
  expect((await send(holdXml({ externalId }))).status).toBe('held');
  await waitUntil(async () => (await storedPriority(contactId)) === 9, { timeoutMs: WAIT_MS, describe: 'the stored priority raised to 9' });
  expect(eventsOf(contactId, 'contact.updated')).toEqual([]);
  expect((await steps(contactId)).filter((s) => s.step === 'escalated').map((s) => s.state)).toEqual(['held', 'held']);
  expect((await send(resumeXml({ externalId }))).status).toBe('resumed');
  const [resumed] = await f.client.waitForEvents(
    1,
    WAIT_MS,
    (e) => e.event.contactId === contactId && e.event.type === 'contact.created' && e.event.resumed === true,
  );
  expect(resumed.event.priority).toBe(9);
  await sleep(1_000);
  expect(eventsOf(contactId, 'contact.updated')).toEqual([]);
});

it("a sender's update moving dueAt later moves the rules: nothing at the old times, each rule at its new time", async () => {
  const oldDue = at(6_000);
  const { externalId, contactId } = await item(oldDue);
  await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId && e.event.type === 'contact.created');
  const newDue = at(12_000);
  const u = await send(updateXml({ externalId, inner: `<dueAt>${newDue}</dueAt>` }));
  expect(u.status).toBe('updated');
  await sleep(Math.max(0, Date.parse(oldDue) - Date.now()) + 1_000);
  expect(escalations(contactId)).toEqual([]);
  const first = await waitForEscalation(contactId, 7);
  expectOnTime(first, Date.parse(newDue) - BEFORE_MS, 'dueAt moved later, before PT3S');
  expect(first.event.dueAt).toBe(newDue);
  const last = await waitForEscalation(contactId, 9);
  expectOnTime(last, Date.parse(newDue), 'dueAt moved later, after PT0S');
});

it('with two instances running: each rule within 5 s, once', async () => {
  second = await f.start();
  const items: { contactId: string; dueMs: number }[] = [];
  for (let i = 0; i < 6; i++) {
    const dueAt = at(6_000 + i * 300);
    items.push({ contactId: (await item(dueAt)).contactId, dueMs: Date.parse(dueAt) });
  }
  for (const it of items) {
    expectOnTime(await waitForEscalation(it.contactId, 7), it.dueMs - BEFORE_MS, 'two instances, before PT3S');
    expectOnTime(await waitForEscalation(it.contactId, 9), it.dueMs, 'two instances, after PT0S');
  }
  await sleep(3_000);
  for (const it of items) expect(escalations(it.contactId).map((e) => e.event.priority)).toEqual([7, 9]);
  const instances = new Set<string>();
  for (const it of items) {
    for (const s of (await f.api<{ steps: { step: string; instance: string }[] }>(`/api/items/${it.contactId}/history`)).steps) {
      if (s.step === 'escalated') instances.add(s.instance);
    }
  }
  console.log(`escalations by ${instances.size} instance(s)`);
  await second.stop();
  second = undefined;
});

it('rules passing while the only instance is stopped: after the restart one raise to the highest, one contact.updated', async () => {
  const dueAt = at(5_000);
  const { contactId } = await item(dueAt);
  await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId && e.event.type === 'contact.created');
  await f.svc.stop();
  await sleep(Math.max(0, Date.parse(dueAt) - Date.now()) + 1_000);
  const restarted = Date.now();
  await f.restart();
  const e = await waitForEscalation(contactId, 9);
  measure('rules passed while stopped: restart→contact.updated', Date.parse(String(e.event.createdAt)) - restarted);
  expect(Date.parse(String(e.event.createdAt)) - restarted).toBeLessThan(ON_TIME_MS + 5_000);
  await sleep(3_000);
  expect(escalations(contactId).map((x) => x.event.priority)).toEqual([9]);
  expect((await steps(contactId)).filter((s) => s.step === 'escalated')).toEqual([
    expect.objectContaining({ reason: 'priority 5 → 9 (before PT3S, after PT0S); contact.updated published' }),
  ]);
  const redis = testRedisClient();
  await redis.connect();
  try {
    expect(await redis.zrange(`${f.prefix}due:escalate`, 0, -1)).not.toContain(contactId);
    expect(await redis.zcard(`${f.prefix}due:escalate:claimed`)).toBe(0);
  } finally {
    await redis.quit();
  }
});

it('an item that ends leaves the escalation timer', async () => {
  const { contactId } = await item(at(3_600_000));
  await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId && e.event.type === 'contact.created');
  const redis = testRedisClient();
  await redis.connect();
  try {
    expect(await redis.zscore(`${f.prefix}due:escalate`, contactId)).not.toBeNull();
    await f.client.publishControl('contact.ended', { contactId });
    await waitUntil(async () => (await redis.zscore(`${f.prefix}due:escalate`, contactId)) === null, {
      timeoutMs: WAIT_MS,
      describe: 'the item out of due:escalate',
    });
  } finally {
    await redis.quit();
  }
});
