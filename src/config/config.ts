import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { FileConfig, fileConfigSchema } from './config-schema';
import { describeJsonError } from './json-location';
import { ALL_FAULT_STEPS, type FaultStep } from '../application/deps';
import { DAY_MS, parseIsoDuration, type Duration, type EscalationRule, type TaskTypeRule, type TaskTypes } from '../domain/task-types';

export interface EntranceConfig {
  name: string;
  displayName: string;
  maxParked: number;
  maxParkSeconds: number;
}

/** The operator dashboard at /ui (off unless DASHBOARD_ENABLED=true). */
export interface DashboardConfig {
  enabled: boolean;
  /** Without credentials the dashboard is read-only and answers loopback clients only. */
  credentials: { user: string; password: string } | null;
  sessionTtlMs: number;
  /** How often the overview refreshes itself. */
  refreshMs: number;
}

/** Who may read what over HTTP (see README "HTTP"). Secrets here are never logged. */
export interface HttpAccessConfig {
  /** Bearer tokens for /api/* (API_TOKENS and API_TOKENS_FILE). Empty: /api answers loopback clients only. */
  apiTokens: string[];
  /** Bearer token for /metrics; null: /metrics is open. */
  metricsToken: string | null;
  /** HMAC key of signed attachment links; null: the service makes a random one per process (and warns). */
  attachmentUrlSecret: string | null;
  attachmentUrlTtlSeconds: number;
}

/** What a client can hold of the HTTP server (README "HTTP connection limits"). */
export interface HttpLimitsConfig {
  /** HTTP_MAX_CONNECTIONS: the cap before it is lowered to fit the process's descriptor limit. */
  maxConnections: number;
  /** Time to receive a request's headers; also how long a connection may stay idle before its first request. */
  headersTimeoutMs: number;
  /** Time to receive a whole request (headers and body); the response is not bounded by it. */
  requestTimeoutMs: number;
  /** Idle time of a keep-alive connection between requests. */
  keepAliveTimeoutMs: number;
}

/** PEM files of a TLS connection (amqps://, rediss://), read once at start. */
export interface TlsFiles {
  /** Trusted CA(s) instead of the system CAs. */
  ca?: Buffer;
  /** Client certificate and its key (mutual TLS); always both or neither. */
  cert?: Buffer;
  key?: Buffer;
}

/** ATTACHMENT_STORE=s3: the bucket, and where and how to reach it (credentials: the standard AWS variables). */
export interface S3StoreConfig {
  bucket: string;
  /** S3_ENDPOINT: an S3-compatible server; unset, AWS S3 of the region. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
}

/** Where attachment bytes live (README "Attachment stores"). */
export type AttachmentStoreConfig = { kind: 'redis' } | { kind: 'fs'; dir: string } | ({ kind: 's3' } & S3StoreConfig);

export interface AppConfig {
  amqpUrls: string[];
  /** AMQP_TLS_*_FILE: used by amqps:// URLs. */
  amqpTls: TlsFiles;
  redisUrl: string;
  /** REDIS_TLS_*_FILE: used by a rediss:// URL. */
  redisTls: TlsFiles;
  /** Sentinel mode when set: host:port of each sentinel; REDIS_URL then only supplies password/db. */
  redisSentinels: { host: string; port: number }[];
  redisMasterName: string;
  /** Redis Cluster mode when set: host:port of some of its nodes; REDIS_URL then only supplies password and scheme. */
  redisClusterNodes: { host: string; port: number }[];
  /** After each state write, WAIT for this many replicas (0 = off) for at most redisWaitTimeoutMs. */
  redisWaitReplicas: number;
  redisWaitTimeoutMs: number;
  /**
   * REDIS_STALL_MS: a Redis connection that owes a reply (a command, or the watchdog's PING every second) and gets
   * none this long is "not answering" (a half-open socket): consumption pauses, the socket is replaced, and each
   * command is bounded by it (ioredis commandTimeout), so no message waits on Redis longer.
   */
  redisStallMs: number;
  redisKeyPrefix: string;
  httpPort: number;
  /** Bind address of the HTTP server. */
  httpHost: string;
  httpLimits: HttpLimitsConfig;
  httpAccess: HttpAccessConfig;
  /** Base of attachment URLs in events, e.g. `http://workitem.bank.example`. */
  publicBaseUrl: string;
  logLevel: string;
  prefetch: number;
  confirmTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** AMQP_HEARTBEAT_SECONDS: the heartbeat asked of the broker; a silent broker is noticed 2-3 heartbeats later. */
  amqpHeartbeatSeconds: number;
  requireDurableRedis: boolean;
  /** Fault tests only: the flush step at which the process stops itself (SIGSTOP) once. */
  faultStopAt?: FaultStep;
  configFile: string;
  taskKey: string;
  entrances: Record<string, EntranceConfig>;
  /** Per task type: defaults, required contact data, escalation rules (null-prototype record). */
  taskTypes: TaskTypes;
  /** true: a task type not in taskTypes is rejected with UNKNOWN_TASK_TYPE. */
  taskTypesStrict: boolean;
  social: FileConfig['social'];
  park: FileConfig['park'];
  schedule: FileConfig['schedule'];
  limits: FileConfig['limits'];
  attachments: FileConfig['attachments'];
  attachmentStore: AttachmentStoreConfig;
  /** Bound of one attachment write, read start or removal. */
  attachmentTimeoutMs: number;
  /** How often orphaned attachments (fs, s3) are looked for; 0 = never. */
  attachmentSweepSeconds: number;
  topology: FileConfig['topology'];
  tombstoneSeconds: number;
  /** Contract 1.2: how long a finished item's (source, externalId) still answers `duplicate`; 0 = never. */
  dedupe: FileConfig['dedupe'];
  dashboard: DashboardConfig;
  /** OpenTelemetry tracing: off unless OTEL_TRACES_EXPORTER=otlp. */
  tracing: { exporter: 'none' | 'otlp'; protocol: 'http/protobuf' | 'http/json'; endpoint?: string };
}

export class ConfigError extends Error {
  /** The variable to fix, e.g. REDIS_URL or WORKITEM_CONFIG (for the log line's `code`): the first one the message names. */
  readonly setting: string;

  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
    this.setting = message.startsWith('invalid config in ')
      ? 'WORKITEM_CONFIG'
      : (/^(?:invalid environment: )?([A-Z][A-Z0-9_]+)\b/.exec(message)?.[1] ?? 'environment');
  }
}

const boolFromEnv = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Bearer token syntax (RFC 6750 b64token), and long enough not to be guessed. */
const TOKEN_RULE = 'each token must be 16..512 characters of A-Z a-z 0-9 - . _ ~ + / (trailing = allowed)';
function isGoodToken(t: string): boolean {
  return t.length >= 16 && t.length <= 512 && /^[A-Za-z0-9\-._~+/]+=*$/.test(t);
}

/** API_TOKENS_FILE: one token per line; blank lines and `#` comments ignored. Never echoes a token in an error. */
function readTokenFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`API_TOKENS_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const tokens: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (!isGoodToken(line)) throw new ConfigError(`API_TOKENS_FILE: ${file} line ${i + 1}: ${TOKEN_RULE}`);
    tokens.push(line);
  });
  if (tokens.length === 0) throw new ConfigError(`API_TOKENS_FILE: ${file} holds no token (unset the variable for loopback-only access)`);
  return tokens;
}

const emptyAsUnset = (v: unknown) => (v === '' ? undefined : v);
/** `host:port,host:port…` (REDIS_SENTINELS, REDIS_CLUSTER_NODES); empty: none. */
const hostPortList = () =>
  z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .refine((list) => list.every((x) => /^[^:\s]+:\d{1,5}$/.test(x)), 'must be host:port[,host:port…]')
    .transform((list) =>
      list.map((x) => {
        const i = x.lastIndexOf(':');
        return { host: x.slice(0, i), port: Number(x.slice(i + 1)) };
      }),
    );
const otlpProtocol = z.enum(['http/protobuf', 'http/json'], 'must be http/protobuf or http/json (grpc is not supported)');

/** Every environment variable the service reads (its keys: `Object.keys(envSchema.shape)`), validated once at start. */
export const envSchema = z.object({
  AMQP_URL: z
    .string()
    .default('amqp://guest:guest@127.0.0.1:5672')
    .transform((v) =>
      v
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
    )
    .refine((urls) => urls.length > 0 && urls.every((u) => /^amqps?:\/\//.test(u)), 'must be amqp:// or amqps:// URL(s), comma-separated'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .refine((v) => URL.canParse(v), 'is not a valid URL (percent-encode special characters of the password)')
    // The path is the db number (ioredis would quietly use db 0 for anything else). Never echoed: the URL may hold a password.
    .refine(
      (v) => !URL.canParse(v) || /^\/?(\d{1,5})?$/.test(new URL(v).pathname),
      'the path must be a db number, e.g. redis://host:6379/0 (or none: db 0)',
    )
    .default('redis://127.0.0.1:6379'),
  AMQP_TLS_CA_FILE: z.string().min(1).optional(),
  AMQP_TLS_CERT_FILE: z.string().min(1).optional(),
  AMQP_TLS_KEY_FILE: z.string().min(1).optional(),
  REDIS_TLS_CA_FILE: z.string().min(1).optional(),
  REDIS_TLS_CERT_FILE: z.string().min(1).optional(),
  REDIS_TLS_KEY_FILE: z.string().min(1).optional(),
  REDIS_SENTINELS: hostPortList(),
  REDIS_CLUSTER_NODES: hostPortList(),
  REDIS_MASTER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .default('mymaster'),
  REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(16).default(0),
  REDIS_WAIT_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).default(200),
  REDIS_STALL_MS: z.coerce.number().int().min(500).max(600_000).default(5000),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/)
    .default('workitem:'),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HTTP_HOST: z
    .string()
    .regex(/^[A-Za-z0-9.:%_-]{1,253}$/, 'must be an IP address or host name, e.g. 0.0.0.0, 127.0.0.1 or ::')
    .default('0.0.0.0'),
  HTTP_MAX_CONNECTIONS: z.coerce.number().int('must be a whole number').min(16).max(1_000_000).default(1024),
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int('must be whole milliseconds').min(1000).max(600_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int('must be whole milliseconds').min(1000).max(3_600_000).default(30_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int('must be whole milliseconds').min(100).max(600_000).default(5_000),
  API_TOKENS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    )
    .refine((list) => list.every(isGoodToken), TOKEN_RULE),
  API_TOKENS_FILE: z.string().min(1).optional(),
  METRICS_TOKEN: z.string().refine(isGoodToken, TOKEN_RULE).optional(),
  ATTACHMENT_URL_SECRET: z.string().min(32, 'must be at least 32 characters').max(1024, 'must be at most 1024 characters').optional(),
  ATTACHMENT_URL_TTL_SECONDS: z.coerce
    .number()
    .int('must be whole seconds')
    .min(1)
    .max(365 * 24 * 3600)
    .default(86_400),
  PUBLIC_BASE_URL: z.string().url().optional(),
  ATTACHMENT_STORE: z.enum(['redis', 'fs', 's3'], 'must be redis, fs or s3').default('redis'),
  ATTACHMENT_DIR: z.string().min(1).optional(),
  ATTACHMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  ATTACHMENT_SWEEP_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600)
    .default(3600),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3..63 characters of a-z 0-9 . -)')
    .optional(),
  S3_ENDPOINT: z
    .string()
    .regex(/^https?:\/\/[^\s/]+/, 'must be an http:// or https:// URL')
    .optional(),
  S3_REGION: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, 'must be a region name such as eu-central-1')
    .optional(),
  S3_FORCE_PATH_STYLE: boolFromEnv.default(false),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
  PREFETCH: z.coerce.number().int().min(1).max(10_000).default(64),
  CONFIRM_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(20_000),
  AMQP_HEARTBEAT_SECONDS: z.coerce.number().int().min(1).max(600).default(10),
  REQUIRE_DURABLE_REDIS: boolFromEnv.default(false),
  // Fault tests only: the process stops itself (SIGSTOP) once at this step of a reopen flush.
  FAULT_STOP_AT: z.enum(ALL_FAULT_STEPS, `must be one of ${ALL_FAULT_STEPS.join(', ')}`).optional(),
  WORKITEM_CONFIG: z.string().optional(),
  DASHBOARD_ENABLED: boolFromEnv.default(false),
  DASHBOARD_USER: z
    .string()
    .regex(/^[^\s:]{1,64}$/, 'must be 1..64 characters without spaces or ":"')
    .optional(),
  DASHBOARD_PASSWORD: z.string().min(8, 'must be at least 8 characters').max(256).optional(),
  DASHBOARD_SESSION_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(480),
  DASHBOARD_REFRESH_SECONDS: z.coerce.number().min(0.2).max(300).default(5),
  // OpenTelemetry, standard names (an empty value counts as unset). The SDK reads the other OTEL_* variables itself.
  OTEL_TRACES_EXPORTER: z.preprocess(emptyAsUnset, z.enum(['none', 'otlp'], 'must be none or otlp').default('none')),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess(
    emptyAsUnset,
    z
      .string()
      .regex(/^https?:\/\/[^\s/]+/, 'must be an http:// or https:// URL')
      .optional(),
  ),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.preprocess(emptyAsUnset, otlpProtocol.default('http/protobuf')),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.preprocess(emptyAsUnset, otlpProtocol.optional()),
  OTEL_SERVICE_NAME: z.preprocess(emptyAsUnset, z.string().max(256).optional()),
});

/** The sample config shipped with the project: `npm start` works without any setting. */
export const SAMPLE_CONFIG_FILE = path.resolve(__dirname, '../../config/workitem.sample.json');

function describeIssues(prefix: string, error: z.ZodError): string {
  return error.issues.map((i) => `${prefix}${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

export function parseFileConfig(raw: unknown, source: string): FileConfig {
  const parsed = fileConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`invalid config in ${source}: ${describeIssues('', parsed.error)}`);
  const cfg = parsed.data;
  for (const [platform, p] of Object.entries(cfg.social)) {
    for (const [pageId, page] of Object.entries(p.pages)) {
      if (!(page.entrance in cfg.entrances)) {
        throw new ConfigError(
          `invalid config in ${source}: social.${platform}.pages.${pageId}.entrance: "${page.entrance}" is not a configured entrance`,
        );
      }
    }
  }
  buildTaskTypes(cfg, source);
  return cfg;
}

/** Like a sent `<expiresAt>`: more than 0 and at most 365 days after arrival. */
const MAX_EXPIRES_IN_DAYS = 365;

/**
 * The task types of a parsed config file, cross-checked: a default entrance is a configured one, expiresIn is within
 * the limits of a sent expiresAt, dueIn is not after expiresIn, escalation rules are in time order with rising
 * priorities and none falls after the expiry (dueIn ± offset > expiresIn). Throws a ConfigError naming the key.
 */
export function buildTaskTypes(cfg: FileConfig, source: string): TaskTypes {
  const out: Record<string, TaskTypeRule> = Object.create(null);
  const fail = (key: string, message: string): never => {
    throw new ConfigError(`invalid config in ${source}: ${key}: ${message}`);
  };
  const dur = (text: string): Duration => ({ text, ms: parseIsoDuration(text)! });
  for (const [name, t] of Object.entries(cfg.taskTypes)) {
    const key = `taskTypes.${name}`;
    // Keyed by the task key's value as the mapping reads it: trimmed, no control characters, at most 1024 characters.
    if (name === '' || name.length > 1024 || name.trim() !== name || /\p{Cc}/u.test(name)) {
      fail(key, 'a task type is 1..1024 characters without control characters or leading/trailing white space');
    }
    if (t.entrance !== undefined && !Object.hasOwn(cfg.entrances, t.entrance)) {
      fail(`${key}.entrance`, `"${t.entrance}" is not a configured entrance`);
    }
    const dueIn = t.dueIn === undefined ? undefined : dur(t.dueIn);
    const expiresIn = t.expiresIn === undefined ? undefined : dur(t.expiresIn);
    if (expiresIn && (expiresIn.ms <= 0 || expiresIn.ms > MAX_EXPIRES_IN_DAYS * DAY_MS)) {
      fail(`${key}.expiresIn`, `must be more than 0 and at most ${MAX_EXPIRES_IN_DAYS} days (the limits of <expiresAt>)`);
    }
    if (dueIn && expiresIn && dueIn.ms > expiresIn.ms) {
      fail(`${key}.dueIn`, `${dueIn.text} is after expiresIn ${expiresIn.text}: the item would expire before it is due`);
    }
    const escalation: EscalationRule[] = [];
    t.escalation?.forEach((r, i) => {
      const ruleKey = `${key}.escalation.${i}`;
      const offset = r.before !== undefined ? dur(r.before) : dur(r.after!);
      const rule: EscalationRule = {
        offsetMs: r.before !== undefined ? -offset.ms : offset.ms,
        text: `${r.before !== undefined ? 'before' : 'after'} ${offset.text}`,
        priority: r.priority,
      };
      const prev = escalation.at(-1);
      if (prev && rule.offsetMs <= prev.offsetMs) fail(ruleKey, `"${rule.text}" must come later than the rule before it ("${prev.text}")`);
      if (prev && rule.priority <= prev.priority) {
        fail(`${ruleKey}.priority`, `${rule.priority} must be higher than the rule before it (${prev.priority}): priority only rises`);
      }
      if (dueIn && expiresIn && dueIn.ms + rule.offsetMs > expiresIn.ms) {
        fail(ruleKey, `"${rule.text}" dueAt (dueIn ${dueIn.text}) is after the expiry (expiresIn ${expiresIn.text})`);
      }
      escalation.push(rule);
    });
    out[name] = {
      ...(t.entrance !== undefined && { entrance: t.entrance }),
      ...(t.priority !== undefined && { priority: t.priority }),
      ...(dueIn && { dueIn }),
      ...(expiresIn && { expiresIn }),
      requiredContactData: t.requiredContactData ?? [],
      escalation,
    };
  }
  return out;
}

/**
 * <PREFIX>_TLS_CA_FILE / _CERT_FILE / _KEY_FILE: read now, so a missing or unreadable file stops the start (exit 2)
 * instead of failing every connect later. TLS files with a plain URL are an error too: the operator believes the
 * connection is encrypted.
 */
function readTlsFiles(
  env: Partial<Record<`${'AMQP' | 'REDIS'}_TLS_${'CA' | 'CERT' | 'KEY'}_FILE`, string>>,
  prefix: 'AMQP' | 'REDIS',
  urlIsTls: boolean,
): TlsFiles {
  const files: TlsFiles = {};
  for (const part of ['CA', 'CERT', 'KEY'] as const) {
    const variable = `${prefix}_TLS_${part}_FILE` as const;
    const file = env[variable];
    if (file === undefined) continue;
    let pem: Buffer;
    try {
      pem = readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${variable}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!pem.includes('-----BEGIN ')) throw new ConfigError(`${variable}: ${file} is not a PEM file (no -----BEGIN line)`);
    files[part.toLowerCase() as keyof TlsFiles] = pem;
  }
  if ((files.cert === undefined) !== (files.key === undefined)) {
    throw new ConfigError(`${prefix}_TLS_CERT_FILE and ${prefix}_TLS_KEY_FILE must be set together (a client certificate and its key)`);
  }
  if (Object.keys(files).length > 0 && !urlIsTls) {
    const urlVar = prefix === 'AMQP' ? 'AMQP_URL (amqps://)' : 'REDIS_URL (rediss://)';
    throw new ConfigError(`${prefix}_TLS_*_FILE set but ${urlVar} does not use TLS`);
  }
  return files;
}

/** ATTACHMENT_STORE and the variables of the chosen store; a variable of a store not chosen is an error (it would be ignored). */
function attachmentStoreConfig(
  v: Pick<
    z.infer<typeof envSchema>,
    'ATTACHMENT_STORE' | 'ATTACHMENT_DIR' | 'S3_BUCKET' | 'S3_ENDPOINT' | 'S3_REGION' | 'S3_FORCE_PATH_STYLE'
  >,
  env: NodeJS.ProcessEnv,
): AttachmentStoreConfig {
  if (v.ATTACHMENT_DIR !== undefined && v.ATTACHMENT_STORE !== 'fs') {
    throw new ConfigError(
      `ATTACHMENT_DIR is set but ATTACHMENT_STORE is ${v.ATTACHMENT_STORE} (set ATTACHMENT_STORE=fs to keep attachments there)`,
    );
  }
  if (v.S3_BUCKET !== undefined && v.ATTACHMENT_STORE !== 's3') {
    throw new ConfigError(
      `S3_BUCKET is set but ATTACHMENT_STORE is ${v.ATTACHMENT_STORE} (set ATTACHMENT_STORE=s3 to keep attachments there)`,
    );
  }
  switch (v.ATTACHMENT_STORE) {
    case 'redis':
      return { kind: 'redis' };
    case 'fs':
      if (!v.ATTACHMENT_DIR)
        throw new ConfigError('ATTACHMENT_DIR: required with ATTACHMENT_STORE=fs (a directory, shared by every instance)');
      return { kind: 'fs', dir: path.resolve(v.ATTACHMENT_DIR) };
    case 's3':
      if (!v.S3_BUCKET) throw new ConfigError('S3_BUCKET: required with ATTACHMENT_STORE=s3');
      return {
        kind: 's3',
        bucket: v.S3_BUCKET,
        ...(v.S3_ENDPOINT && { endpoint: v.S3_ENDPOINT }),
        region: v.S3_REGION ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
        forcePathStyle: v.S3_FORCE_PATH_STYLE,
      };
  }
}

/** Reads env + config file once at start. Throws ConfigError naming the bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const e = envSchema.safeParse(env);
  if (!e.success) throw new ConfigError(`invalid environment: ${describeIssues('', e.error)}`);
  if ((e.data.DASHBOARD_USER === undefined) !== (e.data.DASHBOARD_PASSWORD === undefined)) {
    throw new ConfigError(
      'invalid environment: DASHBOARD_USER and DASHBOARD_PASSWORD must be set together (or neither: read-only, loopback only)',
    );
  }
  const amqpTls = readTlsFiles(
    e.data,
    'AMQP',
    e.data.AMQP_URL.every((u) => u.startsWith('amqps://')),
  );
  if (e.data.REDIS_CLUSTER_NODES.length > 0) {
    if (e.data.REDIS_SENTINELS.length > 0) {
      throw new ConfigError('invalid environment: REDIS_CLUSTER_NODES and REDIS_SENTINELS exclude each other (Cluster or Sentinel)');
    }
    if (!['', '/', '/0'].includes(new URL(e.data.REDIS_URL).pathname)) {
      throw new ConfigError(
        'invalid environment: REDIS_URL: a Redis Cluster has only db 0 (with REDIS_CLUSTER_NODES, no /<db> in the URL)',
      );
    }
  }
  if (e.data.HTTP_HEADERS_TIMEOUT_MS > e.data.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError('invalid environment: HTTP_HEADERS_TIMEOUT_MS must not be greater than HTTP_REQUEST_TIMEOUT_MS');
  }
  if (e.data.REDIS_WAIT_REPLICAS > 0 && e.data.REDIS_WAIT_TIMEOUT_MS >= e.data.REDIS_STALL_MS) {
    throw new ConfigError(
      `invalid environment: REDIS_WAIT_TIMEOUT_MS (${e.data.REDIS_WAIT_TIMEOUT_MS}) must be below REDIS_STALL_MS (${e.data.REDIS_STALL_MS}): a WAIT would count as a Redis that does not answer`,
    );
  }
  const redisTls = readTlsFiles(e.data, 'REDIS', e.data.REDIS_URL.startsWith('rediss://'));
  const attachmentStore = attachmentStoreConfig(e.data, env);
  const configFile = path.resolve(e.data.WORKITEM_CONFIG ?? SAMPLE_CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(configFile, 'utf8');
  } catch (err) {
    throw new ConfigError(`WORKITEM_CONFIG: cannot read ${configFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const at = describeJsonError(text, err as Error);
    throw new ConfigError(`WORKITEM_CONFIG: ${configFile}:${at.line}:${at.column}: not valid JSON: ${at.reason}`);
  }
  const file = parseFileConfig(raw, configFile);
  const entrances: Record<string, EntranceConfig> = Object.create(null);
  for (const [name, ent] of Object.entries(file.entrances)) {
    entrances[name] = {
      name,
      displayName: ent.displayName ?? name,
      maxParked: ent.maxParked ?? file.park.maxParked,
      maxParkSeconds: ent.maxParkSeconds ?? file.park.maxParkSeconds,
    };
  }
  return {
    amqpUrls: e.data.AMQP_URL,
    amqpTls,
    redisUrl: e.data.REDIS_URL,
    redisTls,
    redisSentinels: e.data.REDIS_SENTINELS,
    redisMasterName: e.data.REDIS_MASTER_NAME,
    redisClusterNodes: e.data.REDIS_CLUSTER_NODES,
    redisWaitReplicas: e.data.REDIS_WAIT_REPLICAS,
    redisWaitTimeoutMs: e.data.REDIS_WAIT_TIMEOUT_MS,
    redisStallMs: e.data.REDIS_STALL_MS,
    redisKeyPrefix: e.data.REDIS_KEY_PREFIX,
    httpPort: e.data.HTTP_PORT,
    httpHost: e.data.HTTP_HOST,
    httpLimits: {
      maxConnections: e.data.HTTP_MAX_CONNECTIONS,
      headersTimeoutMs: e.data.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.data.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.data.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    },
    httpAccess: {
      apiTokens: [...new Set([...e.data.API_TOKENS, ...(e.data.API_TOKENS_FILE ? readTokenFile(e.data.API_TOKENS_FILE) : [])])],
      metricsToken: e.data.METRICS_TOKEN ?? null,
      attachmentUrlSecret: e.data.ATTACHMENT_URL_SECRET ?? null,
      attachmentUrlTtlSeconds: e.data.ATTACHMENT_URL_TTL_SECONDS,
    },
    publicBaseUrl: (e.data.PUBLIC_BASE_URL ?? `http://localhost:${e.data.HTTP_PORT}`).replace(/\/+$/, ''),
    logLevel: e.data.LOG_LEVEL,
    prefetch: e.data.PREFETCH,
    confirmTimeoutMs: e.data.CONFIRM_TIMEOUT_MS,
    shutdownTimeoutMs: e.data.SHUTDOWN_TIMEOUT_MS,
    amqpHeartbeatSeconds: e.data.AMQP_HEARTBEAT_SECONDS,
    requireDurableRedis: e.data.REQUIRE_DURABLE_REDIS,
    ...(e.data.FAULT_STOP_AT && { faultStopAt: e.data.FAULT_STOP_AT }),
    configFile,
    taskKey: file.taskKey,
    entrances,
    taskTypes: buildTaskTypes(file, configFile),
    taskTypesStrict: file.taskTypesStrict,
    social: file.social,
    park: file.park,
    schedule: file.schedule,
    limits: file.limits,
    attachments: file.attachments,
    attachmentStore,
    attachmentTimeoutMs: e.data.ATTACHMENT_TIMEOUT_MS,
    attachmentSweepSeconds: e.data.ATTACHMENT_SWEEP_SECONDS,
    topology: file.topology,
    tombstoneSeconds: file.tombstoneSeconds,
    dedupe: file.dedupe,
    dashboard: {
      enabled: e.data.DASHBOARD_ENABLED,
      credentials:
        e.data.DASHBOARD_USER !== undefined && e.data.DASHBOARD_PASSWORD !== undefined
          ? { user: e.data.DASHBOARD_USER, password: e.data.DASHBOARD_PASSWORD }
          : null,
      sessionTtlMs: e.data.DASHBOARD_SESSION_MINUTES * 60_000,
      refreshMs: Math.round(e.data.DASHBOARD_REFRESH_SECONDS * 1000),
    },
    tracing: {
      exporter: e.data.OTEL_TRACES_EXPORTER,
      protocol: e.data.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.data.OTEL_EXPORTER_OTLP_PROTOCOL,
      ...(e.data.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined && { endpoint: e.data.OTEL_EXPORTER_OTLP_ENDPOINT }),
    },
  };
}
