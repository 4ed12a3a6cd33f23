import { z } from 'zod';
import { NAME_PATTERN, NAME_SYNTAX } from '../domain/names';
import { CONTACT_DATA_KEY_PATTERN } from '../domain/work-item';
import { DURATION_SYNTAX, parseIsoDuration } from '../domain/task-types';

/**
 * The JSON config file (`WORKITEM_CONFIG`). Every default lives here, in one place.
 * Names of broker objects are configurable so several deployments (or tests) can share a broker.
 */
const entranceSchema = z
  .object({
    displayName: z.string().min(1).optional(),
    /** Beyond this many parked items a new item for the closed entrance is rejected with PARK_LIMIT. */
    maxParked: z.number().int().positive().optional(),
    /** Parked longer than this: `contact.expired`, EXPIRED to the sender, state removed. */
    maxParkSeconds: z.number().positive().optional(),
  })
  .strict();

const socialPageSchema = z
  .object({
    entrance: z.string().min(1),
    displayName: z.string().min(1),
  })
  .strict();

const socialPlatformSchema = z
  .object({
    /** What the preview calls items of this platform, e.g. "Facebook". */
    displayName: z.string().min(1).optional(),
    pages: z.record(z.string().min(1), socialPageSchema).default({}),
  })
  .strict();

const duration = z.string().refine((v) => parseIsoDuration(v) !== undefined, `must be ${DURATION_SYNTAX}, at most 3650 days`);
const priority = z.number().int().min(1).max(10);

/** One escalation rule: at dueAt minus `before`, or dueAt plus `after`, the item's priority rises to `priority`. */
const escalationRuleSchema = z
  .object({ before: duration.optional(), after: duration.optional(), priority })
  .strict()
  .refine((r) => (r.before === undefined) !== (r.after === undefined), 'needs exactly one of "before" or "after"');

/**
 * Defaults and rules per task type (the value of the task key). Cross-checks (a configured entrance, escalation order,
 * no rule after the expiry, expiresIn within 365 days) are in parseFileConfig, which names the key.
 */
const taskTypeSchema = z
  .object({
    entrance: z.string().min(1).optional(),
    priority: priority.optional(),
    dueIn: duration.optional(),
    expiresIn: duration.optional(),
    requiredContactData: z.array(z.string().regex(CONTACT_DATA_KEY_PATTERN, 'contactData keys match [A-Za-z0-9_.-]{1,100}')).optional(),
    escalation: z.array(escalationRuleSchema).optional(),
  })
  .strict();

export const fileConfigSchema = z
  .object({
    // A contact-data key (its value marks a message as a work item).
    taskKey: z.string().regex(CONTACT_DATA_KEY_PATTERN).default('WorkItemTask'),
    entrances: z
      .record(z.string().regex(NAME_PATTERN, `entrance names are ${NAME_SYNTAX}`), entranceSchema)
      .refine((e) => Object.keys(e).length > 0, 'at least one entrance must be configured'),
    social: z.record(z.string().regex(/^[a-z0-9_-]{1,32}$/), socialPlatformSchema).default({}),
    /** Keyed by the task key's value as senders write it (trimmed, no control characters, at most 1024 characters). */
    taskTypes: z.record(z.string(), taskTypeSchema).default({}),
    /** true: an item whose task type is not in taskTypes is rejected with UNKNOWN_TASK_TYPE. */
    taskTypesStrict: z.boolean().default(false),
    park: z
      .object({
        maxParked: z.number().int().positive().default(10_000),
        maxParkSeconds: z
          .number()
          .positive()
          .default(72 * 3600),
        /** TTL of a parked message before it is dead-lettered back for a retry. */
        retrySeconds: z.number().positive().default(60),
        /**
         * A reopen flush holds its entrance's lease this long between batches; a flusher that dies or freezes longer
         * loses it, and the parked items go on through another flush or their own retry (issue 22 part 2).
         */
        flushLeaseSeconds: z.number().positive().max(3600).default(30),
      })
      .strict()
      .prefault({}),
    schedule: z
      .object({
        /** How far ahead a work item's <activateAt> may be (contract 1.1 "Scheduled items"). */
        maxDays: z.number().positive().max(365).default(30),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        maxMessageBytes: z
          .number()
          .int()
          .positive()
          .default(16 * 1024 * 1024),
        maxDepth: z.number().int().positive().default(8),
        maxElements: z.number().int().positive().default(500),
        maxAttributesPerElement: z.number().int().positive().default(16),
        maxAttributeChars: z.number().int().positive().default(4096),
        /** Any text node except the attachment's base64, which is bounded by attachments.maxBytes. */
        maxTextChars: z.number().int().positive().default(65_536),
        /** Messages above this many bytes are parsed on a worker thread, so small ones never wait. */
        inlineParseBytes: z
          .number()
          .int()
          .positive()
          .default(64 * 1024),
        /** Messages above this many bytes move to the large-item lane (own queue, small prefetch). */
        largeMessageBytes: z
          .number()
          .int()
          .positive()
          .default(256 * 1024),
      })
      .strict()
      .prefault({}),
    attachments: z
      .object({
        maxBytes: z
          .number()
          .int()
          .positive()
          .default(10 * 1024 * 1024),
        /** Exact types or `type/*` wildcards. */
        allowedContentTypes: z
          .array(z.string().regex(/^[a-z0-9.+-]+\/([a-z0-9.+-]+|\*)$/))
          .default(['audio/*', 'image/*', 'application/pdf', 'text/plain']),
      })
      .strict()
      .prefault({}),
    topology: z
      .object({
        inboundExchange: z.string().min(1).default('workitem.inbound'),
        /**
         * Senders that know an item is large (over limits.largeMessageBytes) may publish it here instead, with the same
         * routing key `workitem.<source>`: it feeds the large-item queue directly (contract 1.2), so nothing is moved.
         */
        inboundLargeExchange: z.string().min(1).default('workitem.inbound.large'),
        inboundQueue: z.string().min(1).default('workitem.inbound'),
        errorExchange: z.string().min(1).default('workitem.error'),
        errorQueue: z.string().min(1).default('workitem.error'),
        receiptsExchange: z.string().min(1).default('workitem.receipts'),
        /** Lifecycle notifications to senders (contract 1.2), routing key `<event>.<source>`. */
        notificationsExchange: z.string().min(1).default('workitem.notifications'),
        eventsExchange: z.string().min(1).default('contact.events'),
        controlExchange: z.string().min(1).default('contactcenter.events'),
        controlQueue: z.string().min(1).default('workitem.control'),
        parkedQueuePrefix: z.string().min(1).default('workitem.parked.'),
        /** Large items wait here (moved from the inbound queue, or published to inboundLargeExchange), so they never hold up small ones. */
        largeQueue: z.string().min(1).default('workitem.inbound.large'),
        /**
         * What the broker dead-letters from the inbound, large-item and control queues (expired in the queue, or past
         * the delivery limit) lands here; the service answers it (error copy, rejected receipt).
         */
        deadLetterQueue: z.string().min(1).default('workitem.dead-letters'),
        /**
         * Deliveries after which the broker dead-letters a message of the inbound, large-item and control queues
         * (`x-delivery-limit`). A queue argument: changing it on an existing queue needs the queue re-created.
         */
        deliveryLimit: z.number().int().min(1).max(1_000_000).default(100),
      })
      .strict()
      .prefault({}),
    /** Contract 1.2 "Lifecycle notifications" (exchange: topology.notificationsExchange). */
    notifications: z
      .object({
        /**
         * A notification the relay took from the outbox and the broker has not confirmed within this long (the
         * instance died, the broker is blocked) is taken and published again, with the same message_id.
         */
        leaseSeconds: z.number().positive().max(3600).default(30),
      })
      .strict()
      .prefault({}),
    /** Contract 1.2 "Duplicates after the end, and restart". */
    dedupe: z
      .object({
        /**
         * How long after an item ended, was cancelled or expired the same (source, externalId) is still a duplicate
         * (receipt `duplicate` with the old contactId and `state`); 0: a resend after the end is a new item (1.0).
         */
        afterEndSeconds: z
          .number()
          .int()
          .min(0)
          .max(366 * 24 * 3600)
          .default(7 * 24 * 3600),
      })
      .strict()
      .prefault({}),
    /** How long an ended/cancelled/expired contactId is remembered, so a late retry cannot revive it. */
    tombstoneSeconds: z
      .number()
      .positive()
      .default(7 * 24 * 3600),
  })
  .strict();

export type FileConfig = z.infer<typeof fileConfigSchema>;
