import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { buildDefinitions } from '../../src/adapters/rabbitmq/definitions';
import { buildTopology } from '../../src/adapters/rabbitmq/topology';
import { loadConfig } from '../../src/config/config';
import { httpRequest } from './http';

/**
 * Throwaway RabbitMQ vhosts, one per test (file), so tests never see each other's queues.
 * Uses the management HTTP API when it answers, otherwise `rabbitmqctl`.
 */
const HOST = process.env.RABBITMQ_HOST ?? '127.0.0.1';
const USER = process.env.RABBITMQ_USER ?? 'guest';
const PASSWORD = process.env.RABBITMQ_PASSWORD ?? 'guest';
const MANAGEMENT_URL = (process.env.RABBITMQ_MANAGEMENT_URL ?? `http://${HOST}:15672`).replace(/\/+$/, '');
const CTL_TIMEOUT_MS = 30_000;

export function amqpUrl(vhost: string, port = 5672): string {
  return `amqp://${encodeURIComponent(USER)}:${encodeURIComponent(PASSWORD)}@${HOST}:${port}/${encodeURIComponent(vhost)}`;
}

let managementReachable: Promise<boolean> | undefined;

/** Whether the management API answers with our credentials; probed once per process. */
export function hasManagementApi(): Promise<boolean> {
  managementReachable ??= httpRequest(`${MANAGEMENT_URL}/api/overview`, { auth: `${USER}:${PASSWORD}`, timeoutMs: 1_500 })
    .then((res) => res.status === 200)
    .catch(() => false);
  return managementReachable;
}

async function api(method: string, apiPath: string, body?: object): Promise<number> {
  const res = await httpRequest(`${MANAGEMENT_URL}/api${apiPath}`, {
    method,
    auth: `${USER}:${PASSWORD}`,
    body,
    timeoutMs: CTL_TIMEOUT_MS,
  });
  if (res.status >= 300 && res.status !== 404) {
    throw new Error(`RabbitMQ API ${method} ${apiPath}: HTTP ${res.status} ${res.text()}`);
  }
  return res.status;
}

function rabbitmqctl(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('rabbitmqctl', ['--quiet', ...args], { timeout: CTL_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) reject(new Error(`rabbitmqctl ${args.join(' ')} failed: ${err.message} ${stderr}`.trim()));
      else resolve(stdout);
    });
  });
}

/** Creates `test-<random>` with full permissions for the test user; returns its name. */
export async function createVhost(): Promise<string> {
  const name = `test-${randomBytes(6).toString('hex')}`;
  const vh = encodeURIComponent(name);
  if (await hasManagementApi()) {
    await api('PUT', `/vhosts/${vh}`, {});
    await api('PUT', `/permissions/${vh}/${encodeURIComponent(USER)}`, { configure: '.*', write: '.*', read: '.*' });
  } else {
    await rabbitmqctl('add_vhost', name);
    await rabbitmqctl('set_permissions', '-p', name, USER, '.*', '.*', '.*');
  }
  return name;
}

/** Deletes the vhost with everything in it (closing its connections). Idempotent. */
export async function deleteVhost(name: string): Promise<void> {
  if (await hasManagementApi()) {
    await api('DELETE', `/vhosts/${encodeURIComponent(name)}`);
    return;
  }
  try {
    await rabbitmqctl('delete_vhost', name);
  } catch (err) {
    if (!/does not exist|no_such_vhost|not_found/i.test((err as Error).message)) throw err;
  }
}

export async function listVhosts(): Promise<string[]> {
  if (await hasManagementApi()) {
    const res = await httpRequest(`${MANAGEMENT_URL}/api/vhosts?columns=name`, { auth: `${USER}:${PASSWORD}` });
    return res.json<{ name: string }[]>().map((v) => v.name);
  }
  const out = await rabbitmqctl('list_vhosts', 'name');
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && l !== 'name');
}

/** Force-closes every client connection of the vhost (a broker-side connection loss, for fault tests). */
export async function closeConnections(vhost: string, reason = 'closed by test'): Promise<void> {
  await rabbitmqctl('close_all_connections', '--vhost', vhost, reason);
}

export interface SenderUser {
  /** The user's name, which is also the source it may publish as. */
  name: string;
  password: string;
  /** amqp://<name>:<password>@host/<vhost> */
  url: string;
}

/**
 * A broker user for one sender in `vhost`, with exactly the permissions `rabbitmq/definitions.json` gives its example
 * sender (buildDefinitions with the default topology names): publish as `<source>` only, server-named queues of its
 * own, its own notifications only. The name gets a random suffix (users are per broker, not per vhost); remove it with
 * deleteUser.
 */
export async function createSenderUser(vhost: string, sourcePrefix: string): Promise<SenderUser> {
  const name = `${sourcePrefix}-${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const doc = buildDefinitions(buildTopology(loadConfig({})), { vhost, exampleSender: name });
  const [perm] = doc.permissions;
  if (await hasManagementApi()) {
    await api('PUT', `/users/${encodeURIComponent(name)}`, { password, tags: '' });
    const path = `${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`;
    await api('PUT', `/permissions/${path}`, { configure: perm.configure, write: perm.write, read: perm.read });
    for (const t of doc.topic_permissions)
      await api('PUT', `/topic-permissions/${path}`, { exchange: t.exchange, write: t.write, read: t.read });
  } else {
    await rabbitmqctl('add_user', name, password);
    await rabbitmqctl('set_permissions', '-p', vhost, name, perm.configure, perm.write, perm.read);
    for (const t of doc.topic_permissions) await rabbitmqctl('set_topic_permissions', '-p', vhost, name, t.exchange, t.write, t.read);
  }
  const url = new URL(amqpUrl(vhost));
  url.username = encodeURIComponent(name);
  url.password = encodeURIComponent(password);
  return { name, password, url: url.toString() };
}

/** Removes a broker user (closing its connections). Idempotent. */
export async function deleteUser(name: string): Promise<void> {
  if (await hasManagementApi()) {
    await api('DELETE', `/users/${encodeURIComponent(name)}`);
    return;
  }
  try {
    await rabbitmqctl('delete_user', name);
  } catch (err) {
    if (!/not exist|no_such_user/i.test((err as Error).message)) throw err;
  }
}
