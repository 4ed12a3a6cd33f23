import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type http from 'node:http';
import type { Logger } from './ports/logger';
import type { Deps, FaultStep } from './application/deps';
import { handleControlEvent, parseControlEvent } from './application/handle-control-event';
import { handleInboundMessage } from './application/handle-inbound-message';
import { handleDeadLetter } from './application/handle-dead-letter';
import { outcomeName, settlementOf } from './application/outcome';
import { operatorCancel, operatorHold, operatorResume } from './application/operator-actions';
import { flushEntrance } from './application/parked-items';
import { replayUnfinished } from './application/replay-unfinished';
import { DueTimerPoller } from './application/due-timers';
import { NotificationRelay, relayNotifications } from './application/notification-relay';
import { ParkedWatch } from './application/parked-watch';
import { sweepOrphanAttachments } from './application/attachment-lifecycle';
import { createAttachmentStore, type AttachmentStoreHandle } from './wiring/create-attachment-store';
import type { AppConfig } from './config/config';
import { PermanentStartError } from './adapters/connect-errors';
import { AttachmentUrlSigner } from './adapters/http/attachment-links';
import { createHttpServer, listen } from './adapters/http/http-server';
import { createDashboard, type Dashboard } from './adapters/http/dashboard/dashboard';
import { PrometheusMetrics } from './adapters/http/prometheus-metrics';
import { AmqpConnection } from './adapters/rabbitmq/amqp-connection';
import { ConfirmedPublisher } from './adapters/rabbitmq/confirmed-publisher';
import { controlEventMessage } from './adapters/rabbitmq/control-event-message';
import { ErrorQueue } from './adapters/rabbitmq/error-queue';
import { InboundLanes } from './adapters/rabbitmq/inbound-lanes';
import { toDeadLetteredMessage } from './adapters/rabbitmq/inbound-message';
import { QueueConsumer, type DeliveryHandler, type Disposition } from './adapters/rabbitmq/queue-consumer';
import { RabbitMessaging } from './adapters/rabbitmq/rabbit-messaging';
import { buildTopology } from './adapters/rabbitmq/topology';
import { checkDurability, connectAtStart, createRedis, type RedisConnection, type RedisDurability } from './adapters/redis/redis-client';
import { RedisStateStore } from './adapters/redis/redis-state-store';
import { RedisItemHistory } from './adapters/redis/redis-item-history';
import { RedisWatchdog } from './adapters/redis/redis-watchdog';
import { tlsOptions } from './adapters/tls-options';
import { NO_TRACING, type MessageTracing } from './adapters/rabbitmq/message-tracing';
import { renderReceipt } from './adapters/xml/render-receipt';
import { renderItemInfo } from './adapters/xml/render-item-info';
import { renderNotification } from './adapters/xml/render-notification';
import { WorkerParser } from './adapters/xml/worker-parser';
import type { InboundMessage, Settlement } from './ports/messaging';
import type { ItemHistory } from './ports/item-history';
import type { StateStore } from './ports/state-store';

const CONTROL_PREFETCH = 16;
/**
 * After the drain, closing everything (broker connections, Redis, HTTP, parser) gets at most this long; a dependency
 * that does not answer (a half-open socket) has its socket destroyed. main.ts's hard deadline (SHUTDOWN_TIMEOUT_MS +
 * SHUTDOWN_MARGIN_MS) is above drain + this.
 */
export const SHUTDOWN_CLOSE_MS = 2000;
/** The last notification relay round at shutdown, after a clean drain. */
const FINAL_RELAY_MS = 1000;

/** Waits for `p` (errors ignored) at most `ms`; true when it settled in time. */
function settledWithin(p: Promise<unknown> | undefined | null, ms: number): Promise<boolean> {
  if (!p) return Promise.resolve(true);
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(0, ms)))),
  ]).finally(() => clearTimeout(timer));
}

/**
 * The work-item server's life: start (Redis, HTTP, broker, replay), run (consume while Redis and the
 * publisher are up, pause otherwise), and drain on shutdown.
 */
export class WorkItemService {
  readonly instanceId = `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private redis!: RedisConnection;
  private attachmentRedis!: RedisConnection;
  private attachmentStore!: AttachmentStoreHandle;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping: Promise<unknown> | null = null;
  private publishConn!: AmqpConnection;
  private directReplyConn!: AmqpConnection;
  private bulkConn!: AmqpConnection;
  private bulkPublisher!: ConfirmedPublisher;
  private consumeConn!: AmqpConnection;
  /** The large-item lane's deliveries (MBs each) get a socket of their own, so small deliveries never queue behind them. */
  private largeConsumeConn!: AmqpConnection;
  private publisher!: ConfirmedPublisher;
  /** The main and the large-item lane of the inbound queue. */
  private lanes!: InboundLanes;
  private control!: QueueConsumer;
  /** What the broker dead-lettered from the inbound, large-item and control queues (expired there, delivery limit). */
  private deadLetters!: QueueConsumer;
  private parser!: WorkerParser;
  private http!: http.Server;
  private dashboard: Dashboard | null = null;
  private deps!: Deps;
  /** expiresAt / activateAt: one poller per instance over the due sets in Redis. */
  private dueTimers: DueTimerPoller | null = null;
  /** Routes parked items of an open entrance that nothing else would come for (a flush lost mid-way). */
  private parkedWatch: ParkedWatch | null = null;
  private notificationRelay: NotificationRelay | null = null;
  private durability: RedisDurability | null = null;
  /** Why each Redis connection (state, attachments) cannot be used now; empty: Redis is ready. */
  private readonly redisDown = new Map<string, string>([
    ['state', 'connecting'],
    ['attachments', 'connecting'],
  ]);
  private readonly watchdogs: RedisWatchdog[] = [];
  /** The broker blocks publishing (a memory or disk alarm): the first blocked connection and the broker's reason. */
  private rabbitBlocked: { connection: string; reason: string } | null = null;
  private stopping = false;
  /** Set once the start connects to the broker (after Redis): before, /readyz does not name a broker it is not awaiting. */
  private brokerAwaited = false;
  /** Ends the waits of start() (Redis, broker) when a shutdown comes first. */
  private readonly startAbort = new AbortController();
  private startupReplay: Promise<unknown> = Promise.resolve();
  readonly metrics: PrometheusMetrics;
  httpPort = 0;

  constructor(
    private readonly cfg: AppConfig,
    private readonly log: Logger,
    /** OpenTelemetry (main.ts starts it with OTEL_TRACES_EXPORTER=otlp); off by default. */
    private readonly tracing: MessageTracing = NO_TRACING,
  ) {
    this.metrics = new PrometheusMetrics(Object.keys(cfg.taskTypes));
  }

  async start(): Promise<void> {
    const { cfg, log } = this;
    const links = this.attachmentLinks();
    this.redis = createRedis(cfg, log, 'state');
    this.attachmentRedis = createRedis(cfg, log, 'attachments');

    const topology = buildTopology(cfg);
    const store = new RedisStateStore(
      this.redis,
      cfg.redisKeyPrefix,
      cfg.tombstoneSeconds,
      {
        replicas: cfg.redisWaitReplicas,
        timeoutMs: cfg.redisWaitTimeoutMs,
        onShortfall: (acked) => log.warn('fewer Redis replicas confirmed a state write than REDIS_WAIT_REPLICAS', { acked }),
      },
      cfg.dedupe.afterEndSeconds,
    );
    const history = new RedisItemHistory(this.redis, cfg.redisKeyPrefix, cfg.tombstoneSeconds);
    this.attachmentStore = createAttachmentStore(cfg, this.attachmentRedis);
    const attachments = this.attachmentStore.store;
    const amqpOptions = { tls: tlsOptions(cfg.amqpTls), heartbeatSeconds: cfg.amqpHeartbeatSeconds };
    this.publishConn = new AmqpConnection(cfg.amqpUrls, 'publish', log, amqpOptions);
    this.consumeConn = new AmqpConnection(cfg.amqpUrls, 'consume', log, amqpOptions);
    this.largeConsumeConn = new AmqpConnection(cfg.amqpUrls, 'consume-large', log, amqpOptions);
    const tracing = this.tracing;
    this.publisher = new ConfirmedPublisher(this.publishConn, topology, log, cfg.confirmTimeoutMs, undefined, tracing);
    this.directReplyConn = new AmqpConnection(cfg.amqpUrls, 'direct-reply', log, amqpOptions);
    const directReplyPublisher = new ConfirmedPublisher(
      this.directReplyConn,
      { exchanges: [], queues: [] },
      log,
      cfg.confirmTimeoutMs,
      2000,
      tracing,
    );
    this.bulkConn = new AmqpConnection(cfg.amqpUrls, 'bulk', log, amqpOptions);
    this.bulkPublisher = new ConfirmedPublisher(this.bulkConn, topology, log, cfg.confirmTimeoutMs, undefined, tracing);
    const messaging = new RabbitMessaging(
      this.publisher,
      directReplyPublisher,
      this.consumeConn,
      cfg,
      { receipt: renderReceipt, itemInfo: renderItemInfo, notification: renderNotification },
      log,
      {
        receiptLost: (reason) => this.metrics.receiptLost(reason),
      },
      tracing,
    );
    this.parser = new WorkerParser(cfg, log, 1);
    this.deps = {
      cfg,
      store,
      attachments,
      attachmentLinks: links,
      messaging,
      parser: this.parser,
      metrics: this.metrics,
      log,
      now: Date.now,
      newId: randomUUID,
      history,
      instanceId: this.instanceId,
      tracing,
      ...(cfg.faultStopAt && { faultPoint: stopAtFaultPoint(cfg.faultStopAt, log) }),
    };
    const { inboundQueue, largeQueue, controlQueue, deadLetterQueue } = cfg.topology;
    this.lanes = new InboundLanes(
      this.consumeConn,
      this.largeConsumeConn,
      { inboundQueue, largeQueue, prefetch: cfg.prefetch, largeMessageBytes: cfg.limits.largeMessageBytes, topology },
      messaging,
      this.bulkPublisher,
      (msg) => this.onInbound(msg),
      tracing,
      log,
    );
    this.control = new QueueConsumer(
      this.consumeConn,
      controlQueue,
      CONTROL_PREFETCH,
      topology,
      this.traced(controlQueue, (m) => this.onControl(m)),
      log,
    );
    this.deadLetters = new QueueConsumer(
      this.consumeConn,
      deadLetterQueue,
      CONTROL_PREFETCH,
      topology,
      this.traced(deadLetterQueue, (m) => this.onDeadLetter(toDeadLetteredMessage(m, { inboundQueue, largeQueue, controlQueue }))),
      log,
    );
    this.publisher.on('ready', () => this.updateFlow());
    this.publisher.on('lost', () => this.updateFlow());
    this.bulkPublisher.on('ready', () => this.updateFlow());
    this.bulkPublisher.on('lost', () => this.updateFlow());
    const connections = {
      publish: this.publishConn,
      consume: this.consumeConn,
      'consume-large': this.largeConsumeConn,
      'direct-reply': this.directReplyConn,
      bulk: this.bulkConn,
    };
    for (const conn of Object.values(connections)) {
      conn.on('blocked', () => this.updateBlocked(connections));
      conn.on('unblocked', () => this.updateBlocked(connections));
    }

    const dashboard = cfg.dashboard.enabled ? this.createDashboard(store, links, history) : null;
    this.dashboard = dashboard;
    this.http = createHttpServer({
      cfg,
      store,
      attachments,
      history,
      metrics: this.metrics,
      readiness: () => this.readiness(),
      log,
      links,
      dashboard: dashboard ? (req, res, url) => dashboard.handle(req, res, url) : undefined,
    });
    this.httpPort = await listen(this.http, cfg.httpPort, cfg.httpHost);
    log.info('http listening', {
      host: cfg.httpHost,
      port: this.httpPort,
      api: cfg.httpAccess.apiTokens.length ? `bearer tokens (${cfg.httpAccess.apiTokens.length})` : 'loopback clients only',
      metrics: cfg.httpAccess.metricsToken ? 'bearer token' : 'open',
    });

    // Redis and the broker only now: /healthz answers, and /readyz says what is awaited, while they are down.
    // A permanent failure (wrong login, vhost, db, certificate) throws PermanentConnectError: main exits 3.
    if (!(await connectAtStart([this.redis, this.attachmentRedis], cfg, log, this.startAbort.signal))) return;
    for (const [name, client] of [
      ['state', this.redis],
      ['attachments', this.attachmentRedis],
    ] as const) {
      client.on('ready', () => this.setRedisDown(name, null));
      for (const ev of ['close', 'end', 'reconnecting']) client.on(ev, () => this.setRedisDown(name, 'connection lost'));
      const watchdog = new RedisWatchdog(client, cfg.redisStallMs);
      watchdog.on('stalled', (ms: number) => this.setRedisDown(name, 'not answering', { stalledMs: ms, boundMs: cfg.redisStallMs }));
      watchdog.start();
      this.watchdogs.push(watchdog);
      if (client.status === 'ready') this.setRedisDown(name, null);
    }
    this.durability = await checkDurability(this.redis);
    if (this.durability.warning) {
      // The deployment's Redis does not match the setting: permanent (exit 3), restarting cannot help.
      if (cfg.requireDurableRedis)
        throw new PermanentStartError('REQUIRE_DURABLE_REDIS', `REQUIRE_DURABLE_REDIS=true: ${this.durability.warning}`);
      log.warn(`WARNING: ${this.durability.warning}`, { redis: this.durability });
    }
    await this.attachmentStore.init();
    log.info('attachment store ready', this.attachmentStore.describe);

    const stopped = new Promise<void>((resolve) => this.startAbort.signal.addEventListener('abort', () => resolve()));
    const publisherReady = new Promise<void>((resolve) => this.publisher.once('ready', resolve));
    // The publish connection probes the broker alone: while it is down only it logs its retries, and a refused
    // login or a missing vhost ends the start at once instead of five connections retrying it.
    this.brokerAwaited = true;
    await this.publishConn.start();
    if (this.stopping) return;
    await Promise.all([this.consumeConn.start(), this.largeConsumeConn.start(), this.directReplyConn.start(), this.bulkConn.start()]);
    await Promise.race([publisherReady, stopped]);
    if (this.stopping) return;
    this.updateFlow();
    this.startupReplay = this.recoverAfterStart();
    this.dueTimers = new DueTimerPoller(this.deps, () => this.redisReady && this.publisher.ready && !this.stopping);
    this.deps.dueTimers = this.dueTimers;
    this.dueTimers.start();
    this.notificationRelay = new NotificationRelay(this.deps, () => this.redisReady && this.publisher.ready && !this.stopping);
    this.deps.notifications = this.notificationRelay;
    this.notificationRelay.start();
    this.parkedWatch = new ParkedWatch(this.deps, () => this.redisReady && this.publisher.ready && !this.stopping);
    this.parkedWatch.start();
    this.startAttachmentSweep();
    log.info('service ready', { instance: this.instanceId, entrances: Object.keys(cfg.entrances) });
  }

  /** Signed attachment links; without ATTACHMENT_URL_SECRET a random key of this process, and a loud warning. */
  private attachmentLinks(): AttachmentUrlSigner {
    const { cfg, log } = this;
    let secret = cfg.httpAccess.attachmentUrlSecret;
    if (!secret) {
      secret = AttachmentUrlSigner.randomSecret();
      log.warn(
        'WARNING: ATTACHMENT_URL_SECRET is not set: attachment links are signed with a random key of this process. ' +
          'Links in events stop working when it restarts and on every other instance; set the same ATTACHMENT_URL_SECRET (>= 32 characters) on all instances.',
      );
    }
    return new AttachmentUrlSigner(secret, cfg.httpAccess.attachmentUrlTtlSeconds, cfg.publicBaseUrl);
  }

  /**
   * The operator dashboard (/ui): control events go out on the publish connection like the CLI's; the error queue
   * is browsed on channels of the consume connection and replayed through the bulk connection, so a burst of
   * republished messages never queues in front of contact events. An operator's hold, resume and cancel of an item run
   * the use cases on this instance's deps (read at call time: the timer poller is nudged once it runs).
   */
  private createDashboard(store: StateStore, links: AttachmentUrlSigner, history: ItemHistory): Dashboard {
    const { cfg, log } = this;
    const errorQueue = ErrorQueue.onConnections(this.consumeConn, this.bulkPublisher, cfg.topology);
    return createDashboard({
      cfg,
      store,
      history,
      errorQueue,
      publishControl: (routingKey, body) => {
        const { content, options } = controlEventMessage(routingKey, body, 'workitem-dashboard');
        return this.publisher.publish(cfg.topology.controlExchange, routingKey, content, options, true);
      },
      attachmentLink: (contactId, fileName) => links.signedPath(contactId, fileName),
      itemActions: {
        hold: (contactId, user, terms) => operatorHold(this.deps, contactId, user, terms),
        resume: (contactId, user) => operatorResume(this.deps, contactId, user),
        cancel: (contactId, user) => operatorCancel(this.deps, contactId, user),
      },
      log,
      now: Date.now,
    });
  }

  /** Our own start: re-publish routed unfinished items, then route parked items of open entrances. */
  private async recoverAfterStart(): Promise<void> {
    try {
      await replayUnfinished(this.deps, 'service.start', this.instanceId, undefined, () => this.stopping);
      for (const e of await this.deps.store.entrances(Object.keys(this.cfg.entrances))) {
        if (e.open && e.parked > 0 && !this.stopping) await flushEntrance(this.deps, e.name, this.instanceId);
      }
      if (this.stopping) this.log.info('shutdown requested during start-up replay; stopping');
    } catch (err) {
      // A shutdown closes the connections under a replay still publishing: expected, and nothing is lost (the items
      // stay unfinished in Redis and the next start replays them).
      if (this.stopping) {
        this.log.info('shutdown requested during start-up replay; stopping', { error: (err as Error).message });
        return;
      }
      this.log.error('recovery after start failed; items stay in Redis and are replayed on the next start or server.started', {
        error: (err as Error).message,
        stack: (err as Error).stack,
      });
    }
  }

  /** fs/s3: every ATTACHMENT_SWEEP_SECONDS (jittered across instances) remove attachments no unfinished item owns. */
  private startAttachmentSweep(): void {
    const seconds = this.cfg.attachmentSweepSeconds;
    if (seconds === 0 || !this.deps.attachments.list) return;
    this.sweepTimer = setInterval(
      () => {
        if (this.sweeping || this.stopping) return;
        this.sweeping = sweepOrphanAttachments(this.deps, { stopping: () => this.stopping })
          .catch((err) => this.log.warn('orphan attachment sweep failed; tried again next time', { error: (err as Error).message }))
          .finally(() => (this.sweeping = null));
      },
      Math.round(seconds * 1000 * (0.9 + Math.random() * 0.2)),
    );
    this.sweepTimer.unref();
  }

  private get redisReady(): boolean {
    return this.redisDown.size === 0;
  }

  /**
   * A Redis connection went down (`why`: connection lost, not answering) or came back (null). One warning when Redis
   * becomes unavailable, naming the connection and why, and one info line when every connection is ready again.
   */
  private setRedisDown(connection: string, why: string | null, fields: Record<string, unknown> = {}): void {
    const wasReady = this.redisReady;
    if (why === null) this.redisDown.delete(connection);
    else if (!this.redisDown.has(connection) || why === 'not answering') this.redisDown.set(connection, why);
    if (wasReady === this.redisReady) return;
    if (this.redisReady) this.log.info('redis ready');
    else if (!this.stopping) {
      const message =
        why === 'not answering'
          ? 'redis unavailable (not answering): no reply within REDIS_STALL_MS; consumption paused, reconnecting'
          : `redis unavailable (${why})`;
      this.log.warn(message, { connection, ...fields });
    }
    this.updateFlow();
  }

  /** Any broker connection blocked by a resource alarm pauses consumption until every one is unblocked. */
  private updateBlocked(connections: Record<string, AmqpConnection>): void {
    const first = Object.entries(connections).find(([, c]) => c.blocked !== null);
    const blocked = first ? { connection: first[0], reason: first[1].blocked! } : null;
    if ((blocked === null) === (this.rabbitBlocked === null)) return;
    this.rabbitBlocked = blocked;
    if (blocked) this.log.warn('rabbitmq blocks publishing (resource alarm); consumption paused', blocked);
    else this.log.info('rabbitmq unblocked publishing; consumption resumes');
    this.updateFlow();
  }

  /** Consume only while every dependency can confirm work: otherwise messages stay safely in the queue. */
  private updateFlow(): void {
    if (!this.lanes) return;
    const go = this.redisReady && this.publisher.ready && this.bulkPublisher.ready && !this.rabbitBlocked && !this.stopping;
    const why = this.stopping
      ? 'shutting down'
      : !this.redisReady
        ? `redis unavailable (${[...this.redisDown.values()].join(', ')})`
        : this.rabbitBlocked
          ? 'rabbitmq blocked'
          : 'publisher unavailable';
    for (const c of [...this.lanes.consumers, this.control, this.deadLetters]) {
      if (go) void c.resume();
      else void c.pause(why);
    }
  }

  /** Tracing on: each delivery is handled in a CONSUMER span continuing its traceparent. Off: the handler itself. */
  private traced(queue: string, handler: DeliveryHandler): DeliveryHandler {
    const t = this.tracing;
    return t.enabled ? (m) => t.process(queue, m, () => handler(m)) : handler;
  }

  private async onInbound(msg: InboundMessage): Promise<Settlement> {
    const started = process.hrtime.bigint();
    const outcome = await handleInboundMessage(this.deps, msg);
    this.metrics.processed(outcomeName(outcome), Number(process.hrtime.bigint() - started) / 1e9);
    return settlementOf(outcome);
  }

  private async onDeadLetter(msg: InboundMessage): Promise<Settlement> {
    const started = process.hrtime.bigint();
    const outcome = await handleDeadLetter(this.deps, msg);
    this.metrics.processed(outcomeName(outcome), Number(process.hrtime.bigint() - started) / 1e9);
    return settlementOf(outcome);
  }

  private async onControl(m: import('amqplib').ConsumeMessage): Promise<Disposition> {
    const ev = parseControlEvent(m.fields.routingKey, m.content);
    if (typeof ev === 'string') {
      this.log.warn('control event ignored', { routingKey: m.fields.routingKey, reason: ev });
      return 'ack';
    }
    await handleControlEvent(this.deps, ev, this.instanceId);
    return 'ack';
  }

  /**
   * /readyz: ready, or what it waits for (`waitingFor`: redis, rabbitmq, rabbitmq-blocked, consumer) — from the first
   * second of the process. `redisDown` says why Redis is not ready (per connection: connection lost, not answering).
   */
  readiness(): { ready: boolean; checks: Record<string, unknown> } {
    const redis = this.redisReady;
    const amqpPublish = this.publisher?.ready ?? false;
    const amqpConsume = (this.consumeConn?.current ?? null) !== null;
    const consuming = this.lanes?.main.active ?? false;
    // Only what it actually waits for: the broker is named once the start connects to it (after Redis), and the
    // consumer only when nothing else keeps it paused.
    const waitingFor: string[] = [];
    if (!redis) waitingFor.push('redis');
    if (this.brokerAwaited && (!amqpPublish || !amqpConsume)) waitingFor.push('rabbitmq');
    else if (this.rabbitBlocked) waitingFor.push('rabbitmq-blocked');
    if (waitingFor.length === 0 && !consuming) waitingFor.push(this.brokerAwaited ? 'consumer' : 'rabbitmq');
    const ready = waitingFor.length === 0 && !this.stopping;
    const checks = {
      ready,
      waitingFor,
      ...(this.stopping ? { stopping: true } : {}),
      redis,
      ...(redis ? {} : { redisDown: Object.fromEntries(this.redisDown) }),
      amqpPublish,
      ...(this.rabbitBlocked ? { rabbitmqBlocked: this.rabbitBlocked } : {}),
      amqpConsume,
      consuming,
      redisDurability: this.durability,
    };
    return { ready, checks };
  }

  /**
   * SIGTERM: stop taking work, finish in-flight messages (at most SHUTDOWN_TIMEOUT_MS), then close everything (at most
   * SHUTDOWN_CLOSE_MS more, whatever the dependencies do: a half-open socket is destroyed, not waited on). Messages
   * not settled by then are redelivered by the broker.
   */
  async stop(opts: { quiet?: boolean } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.startAbort.abort();
    // quiet: after a failed start, the one line that says why stays the only one.
    const log = opts.quiet ? { info: () => undefined, warn: () => undefined } : this.log;
    log.info('shutting down: draining in-flight messages');
    const timeout = this.cfg.shutdownTimeoutMs;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    // The due timers, the start-up replay and the attachment sweep take no new work now and finish alongside the drain.
    const background = settledWithin(
      Promise.all([this.startupReplay, this.dueTimers?.stop(), this.parkedWatch?.stop(), this.notificationRelay?.stop(), this.sweeping]),
      timeout,
    );
    const [drained] = await Promise.all([
      Promise.all([
        ...(this.lanes?.consumers ?? []).map((c) => c.drain(timeout)),
        this.control?.drain(timeout),
        this.deadLetters?.drain(timeout),
      ]),
      this.dashboard?.stop(timeout),
      background,
    ]);
    const drainedAll = !drained.some((d) => d === false);
    if (!drainedAll) log.warn('shutdown timeout: unsettled messages will be redelivered by the broker');
    // What the drained messages' transitions wrote goes out now, briefly, and only after a clean drain (a stalled Redis
    // or broker gets no more of the shutdown's time); anything left is published by another instance's relay (or this
    // one's after a restart): the outbox keeps it.
    if (drainedAll && this.notificationRelay && this.redisReady && this.publisher.ready) {
      await settledWithin(
        relayNotifications(this.deps).catch(() => undefined),
        FINAL_RELAY_MS,
      );
    }
    for (const w of this.watchdogs) w.stop();
    const closeRedis = async (client: RedisConnection | undefined): Promise<void> => {
      if (!client) return;
      // QUIT waits for the replies still owed; a Redis that does not answer gets its socket closed instead.
      await settledWithin(client.quit(), SHUTDOWN_CLOSE_MS - 500);
      if (client.status !== 'end') client.disconnect();
    };
    this.http?.closeIdleConnections();
    await Promise.all([
      ...[this.consumeConn, this.largeConsumeConn, this.publishConn, this.directReplyConn, this.bulkConn].map((c) =>
        c?.stop(SHUTDOWN_CLOSE_MS - 500),
      ),
      settledWithin(this.parser?.close(), SHUTDOWN_CLOSE_MS),
      settledWithin(new Promise<void>((r) => (this.http ? this.http.close(() => r()) : r())), SHUTDOWN_CLOSE_MS - 500),
      closeRedis(this.redis),
      closeRedis(this.attachmentRedis),
    ]);
    this.http?.closeAllConnections();
    this.attachmentStore?.close();
    log.info('shutdown complete');
  }
}

/**
 * FAULT_STOP_AT (fault tests only): the process stops itself with SIGSTOP the first time a flush (or a hold, a resume)
 * reaches `at`, so the test can freeze it there for as long as it likes (SIGCONT) or kill it exactly there (SIGKILL).
 */
function stopAtFaultPoint(at: FaultStep, log: Logger): (step: FaultStep) => void {
  let fired = false;
  return (step) => {
    if (step !== at || fired) return;
    fired = true;
    log.warn('FAULT_STOP_AT reached: the process stops itself (SIGSTOP)', { step });
    process.kill(process.pid, 'SIGSTOP');
  };
}
