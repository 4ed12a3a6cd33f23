import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type Redis from 'ioredis';
import { storeNamespace } from '../../src/adapters/attachments/attachment-keys';
import { Fixture } from '../helpers/fixture';
import { httpRequest } from '../helpers/http';
import { testRedisClient } from '../helpers/redis';
import { waitUntil } from '../helpers/wait';
import { cancelXml, example, newExternalId, workItemXml } from '../helpers/work-items';

/** s3rver (npm): a real S3-compatible server (SigV4, REST XML), run in this process on a free port. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };

const BUCKET = 'workitem-attachments';
const MB = 1024 * 1024;
const WAV = Buffer.from('UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=', 'base64');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Random bytes: a store that mixed up or truncated chunks would not match the sha256. */
const pattern = (n: number): Buffer => randomBytes(n);
// The SDK's notice about future Node versions is not this test's business.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

type Kind = 'redis' | 'fs' | 's3';
/** Redis memory of one unfinished item with a 1 MB attachment, per store (printed at the end). */
const memory: Record<string, { itemKey: number; attKey: number; total: number }> = {};

let s3srv: { close(): Promise<void> } | null = null;
let s3Port = 0;
let s3Dir = '';
let s3: S3Client | null = null;

beforeAll(async () => {
  s3Dir = mkdtempSync(path.join(os.tmpdir(), 'wi-s3rver-'));
  const srv = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3Dir });
  s3Port = (await srv.run()).port;
  s3srv = srv;
  s3 = new S3Client({
    endpoint: `http://127.0.0.1:${s3Port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
}, 30_000);

afterAll(async () => {
  s3?.destroy();
  await s3srv?.close();
  if (s3Dir) rmSync(s3Dir, { recursive: true, force: true });
  console.log(`Redis memory per unfinished item with a 1 MB attachment (MEMORY USAGE, bytes):\n${JSON.stringify(memory, null, 2)}`);
});

/**
 * Issue 18 part 4: ATTACHMENT_STORE=redis|fs|s3 with the real service. Every store: written before the event,
 * streamed on download (signed link, identical bytes), removed on End, cancel and expiry, nothing left behind by
 * duplicates; with fs and s3 Redis holds only the item's record, whatever the attachment's size.
 */
describe.each<Kind>(['redis', 'fs', 's3'])('ATTACHMENT_STORE=%s', (kind) => {
  const f = new Fixture({
    config: { attachments: { maxBytes: 2 * MB }, entrances: { brief: { maxParkSeconds: 1 } }, park: { retrySeconds: 1 } },
  });
  let dir = '';
  let redis: Redis;
  let ns = '';

  /** What the store holds for the contactId: the bytes, or null. */
  async function stored(contactId: string): Promise<Buffer | null> {
    if (kind === 'redis') return redis.getBuffer(`${f.prefix}att:${contactId}`);
    if (kind === 'fs') {
      const file = path.join(dir, ns, contactId);
      return existsSync(file) ? readFileSync(file) : null;
    }
    try {
      const h = await s3!.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${ns}/${contactId}` }));
      return Buffer.alloc(h.ContentLength ?? 0);
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return null;
      throw err;
    }
  }

  /** Every contactId the store holds for this deployment. */
  async function allStored(): Promise<string[]> {
    if (kind === 'redis') {
      const [, keys] = await redis.scan('0', 'MATCH', `${f.prefix}att:*`, 'COUNT', 10_000);
      return keys.map((k) => k.slice(`${f.prefix}att:`.length));
    }
    if (kind === 'fs') return existsSync(path.join(dir, ns)) ? readdirSync(path.join(dir, ns)) : [];
    const page = await s3!.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${ns}/` }));
    return (page.Contents ?? []).map((o) => o.Key!.slice(ns.length + 1));
  }

  async function send(xml: string, ext: string, status = 'accepted') {
    await f.client.publishWorkItem(xml, { replyTo: true, correlationId: ext });
    const [r] = await f.client.waitForReceipts(1, 30_000, (x) => x.properties.correlationId === ext && x.status !== 'duplicate');
    expect(r.status).toBe(status);
    return r.contactId!;
  }

  async function download(contactId: string) {
    const [ev] = await f.client.waitForEvents(
      1,
      20_000,
      (e) => e.event.contactId === contactId && e.routingKey.startsWith('contact.created.'),
    );
    const url = new URL(ev.event.attachment!.url);
    return { ev, url, res: await httpRequest(`${f.svc.baseUrl}${url.pathname}${url.search}`, { timeoutMs: 20_000 }) };
  }

  beforeAll(async () => {
    redis = testRedisClient();
    await redis.connect();
    const env: Record<string, string> = { ATTACHMENT_STORE: kind };
    if (kind === 'fs') {
      dir = mkdtempSync(path.join(os.tmpdir(), 'wi-attdir-'));
      env.ATTACHMENT_DIR = dir;
    }
    if (kind === 's3') {
      Object.assign(env, {
        S3_BUCKET: BUCKET,
        S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
        S3_REGION: 'us-east-1',
        S3_FORCE_PATH_STYLE: 'true',
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
      });
    }
    f.serviceOpts.env = env;
    await f.setup();
    ns = storeNamespace(f.prefix);
  }, 90_000);

  afterAll(async () => {
    await f.teardown();
    redis?.disconnect();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('voicemail-with-audio.xml: the download through the signed link is the identical bytes; End removes them → 404', async () => {
    const contactId = await send(example('voicemail-with-audio.xml'), 'vm');
    const { ev, url, res } = await download(contactId);
    expect(ev.event.attachment).toMatchObject({ fileName: 'message.wav', size: 44, sha256: sha256(WAV) });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('44');
    expect(res.body.equals(WAV)).toBe(true);
    expect((await stored(contactId))?.length).toBe(44);
    await f.client.publishControl('contact.ended', { contactId });
    await waitUntil(async () => (await stored(contactId)) === null, {
      timeoutMs: 15_000,
      describe: `${kind} copy of ${contactId} removed`,
    });
    expect((await httpRequest(`${f.svc.baseUrl}${url.pathname}${url.search}`)).status).toBe(404);
  });

  it('a 1 MB attachment: stored before the event, streamed intact (sha256), Redis holds only the record; End → gone, 404', async () => {
    const data = pattern(MB);
    const ext = newExternalId('MB');
    const contactId = await send(
      workItemXml({ externalId: ext, entrance: 'support', attachment: { fileName: 'call.wav', contentType: 'audio/wav', data } }),
      ext,
    );
    const { ev, url, res } = await download(contactId);
    expect(ev.event.attachment).toMatchObject({ size: MB, sha256: sha256(data) });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(MB));
    expect(sha256(res.body)).toBe(sha256(data));
    const copy = await stored(contactId);
    expect(copy?.length).toBe(MB);
    if (kind === 'fs') expect(copy!.equals(data)).toBe(true);

    const usage = async (key: string) => Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    const itemKey = await usage(`${f.prefix}item:${contactId}`);
    const attKey = await usage(`${f.prefix}att:${contactId}`);
    memory[kind] = { itemKey, attKey, total: itemKey + attKey };
    expect(itemKey).toBeGreaterThan(0);
    if (kind === 'redis') expect(attKey).toBeGreaterThanOrEqual(MB);
    else {
      expect(attKey).toBe(0);
      expect(itemKey).toBeLessThan(16 * 1024);
    }

    await f.client.publishControl('contact.ended', { contactId });
    await waitUntil(async () => (await httpRequest(`${f.svc.baseUrl}${url.pathname}${url.search}`)).status === 404, { timeoutMs: 15_000 });
    await waitUntil(async () => (await stored(contactId)) === null, {
      timeoutMs: 15_000,
      describe: `${kind} copy of ${contactId} removed`,
    });
  });

  it('Redis memory per item does not grow with the attachment size (fs, s3)', async () => {
    const sizes = [16 * 1024, 2 * MB - 1024];
    const usages: number[] = [];
    for (const size of sizes) {
      const ext = newExternalId('SZ');
      const contactId = await send(
        workItemXml({
          externalId: ext,
          entrance: 'support',
          attachment: { fileName: 'a.wav', contentType: 'audio/wav', data: pattern(size) },
        }),
        ext,
      );
      await download(contactId);
      const keys = [`${f.prefix}item:${contactId}`, `${f.prefix}att:${contactId}`];
      let total = 0;
      for (const k of keys) total += Number((await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')) ?? 0);
      usages.push(total);
      await f.client.publishControl('contact.ended', { contactId });
      await waitUntil(async () => (await stored(contactId)) === null, { timeoutMs: 15_000 });
    }
    const growth = usages[1] - usages[0];
    if (kind === 'redis') expect(growth).toBeGreaterThan(MB);
    else expect(Math.abs(growth)).toBeLessThan(512);
  });

  it('cancel removes the attachment', async () => {
    const ext = newExternalId('CAN');
    const contactId = await send(
      workItemXml({ externalId: ext, entrance: 'support', attachment: { fileName: 'a.wav', contentType: 'audio/wav', data: WAV } }),
      ext,
    );
    const { url } = await download(contactId);
    expect(await stored(contactId)).not.toBeNull();
    await f.client.publishWorkItem(cancelXml({ externalId: ext }), { replyTo: true, correlationId: `${ext}-c` });
    const [c] = await f.client.waitForReceipts(1, 20_000, (x) => x.properties.correlationId === `${ext}-c`);
    expect(c.status).toBe('cancelled');
    await waitUntil(async () => (await stored(contactId)) === null, { timeoutMs: 15_000, describe: `${kind} copy removed after cancel` });
    expect((await httpRequest(`${f.svc.baseUrl}${url.pathname}${url.search}`)).status).toBe(404);
  });

  it('expiry (parked longer than allowed) removes the attachment', async () => {
    await f.setEntrance('brief', false);
    const ext = newExternalId('EXP');
    const contactId = await send(
      workItemXml({ externalId: ext, entrance: 'brief', attachment: { fileName: 'a.wav', contentType: 'audio/wav', data: WAV } }),
      ext,
      'buffered',
    );
    await f.client.waitForEvents(1, 30_000, (e) => e.event.contactId === contactId && e.routingKey === 'contact.expired.brief');
    await waitUntil(async () => (await stored(contactId)) === null, { timeoutMs: 15_000, describe: `${kind} copy removed after expiry` });
  });

  it('a duplicate writes no second copy; after every item is gone nothing is left in the store', async () => {
    const ext = newExternalId('DUP');
    const xml = workItemXml({
      externalId: ext,
      entrance: 'support',
      attachment: { fileName: 'a.wav', contentType: 'audio/wav', data: pattern(300 * 1024) },
    });
    const contactId = await send(xml, ext);
    await f.client.publishWorkItem(xml, { replyTo: true, correlationId: `${ext}-dup` });
    const [dup] = await f.client.waitForReceipts(1, 30_000, (x) => x.properties.correlationId === `${ext}-dup`);
    expect(dup).toMatchObject({ status: 'duplicate', contactId });
    expect(await allStored()).toEqual([contactId]);
    await f.client.publishControl('contact.ended', { contactId });
    await waitUntil(async () => (await allStored()).length === 0, { timeoutMs: 15_000, describe: () => `${kind} store empty` });
    expect(f.svc.logs.join('\n')).not.toMatch(/"level":"error"/);
  });
});
