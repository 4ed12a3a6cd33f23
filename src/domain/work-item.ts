/**
 * A validated work item: plain data copied out of the parsed XML into fresh objects.
 * `contactData` is a null-prototype record, so a key such as `__proto__` is kept as data.
 */
export interface Customer {
  name?: string;
  email?: string;
  phone?: string;
}

export interface AttachmentInput {
  fileName: string;
  contentType: string;
  /** Decoded bytes. Never leaves the service except through the attachment store. */
  data: Buffer;
  sha256: string;
}

export interface SocialRef {
  platform: string;
  pageId: string;
  postId?: string;
  author?: string;
  /** Display name of the configured page, e.g. "Bank on Facebook". */
  pageName?: string;
  /** What previews call the platform (`social.<platform>.displayName`, e.g. "Facebook"). */
  platformName?: string;
}

export interface WorkItem {
  externalId: string;
  source: string;
  entrance: string;
  priority: number;
  subject: string;
  body?: string;
  dueAt?: string;
  customer?: Customer;
  contactData: Record<string, string>;
  /** The value of the configured task key: tells work items apart in reports. */
  taskType: string;
  attachment?: AttachmentInput;
  social?: SocialRef;
  /** Contract 1.1: RFC 3339 as the sender wrote it; checked to be in the future and at most 365 days ahead. */
  expiresAt?: string;
  /** Contract 1.1: RFC 3339 as the sender wrote it, at most schedule.maxDays ahead; in the future → scheduled. */
  activateAt?: string;
  /**
   * Contract 1.2 `<workItem restart="true">`: a new contact on purpose although the same (source, externalId) ended,
   * was cancelled or expired within dedupe.afterEndSeconds. With an unfinished one it is a plain duplicate.
   */
  restart?: boolean;
}

export interface CancelRequest {
  externalId: string;
  source: string;
}

/** `<getWorkItem>` (status query): what a sender asks about one of its items; answered to reply_to only. */
export interface StatusQuery {
  externalId: string;
  source: string;
}

/**
 * `<holdWorkItem>` (contract 1.2): the item stops where it is (a routed one is withdrawn from the agents' queue) until
 * a `<resumeWorkItem>` or its `until`.
 */
export interface HoldRequest {
  externalId: string;
  source: string;
  /** RFC 3339 as the sender wrote it, at most schedule.maxDays ahead (the rules of activateAt): resumed by itself then. */
  until?: string;
  /** At most 256 characters; shown in the item's history. */
  reason?: string;
}

/** `<resumeWorkItem>` (contract 1.2): a held item is routed again as a new arrival with its contactId. */
export interface ResumeRequest {
  externalId: string;
  source: string;
}

/**
 * `<updateWorkItem>` (contract 1.1): only the fields the sender gave. Empty elements count as absent, except in
 * `customer` (an empty child removes that field: null) and `contactData` (an empty value removes the key: '').
 */
export interface UpdateRequest {
  externalId: string;
  source: string;
  /** The `revision` attribute: a positive integer up to Number.MAX_SAFE_INTEGER. */
  revision?: number;
  priority?: number;
  subject?: string;
  body?: string;
  dueAt?: string;
  expiresAt?: string;
  customer?: { name?: string | null; email?: string | null; phone?: string | null };
  /** Null-prototype record, in document order; '' removes the key. */
  contactData?: Record<string, string>;
}

/**
 * What the XML adapter hands the application: a work item, a cancel, an update, a status query, a hold, a resume, or
 * the first problem found.
 */
export type ParsedMessage =
  | { kind: 'workItem'; item: WorkItem }
  | { kind: 'cancel'; cancel: CancelRequest }
  | { kind: 'update'; update: UpdateRequest }
  | { kind: 'get'; query: StatusQuery }
  | { kind: 'hold'; hold: HoldRequest }
  | { kind: 'resume'; resume: ResumeRequest }
  | {
      kind: 'invalid';
      error: import('./error-codes').WorkItemError;
      externalId?: string;
      source?: string;
      /** Read from a rejected item when possible, for counting only. */
      entrance?: string;
      taskType?: string;
    };

export const CONTACT_DATA_KEY_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;
export const CONTACT_ID_PATTERN = /^wi-[0-9a-f-]{36}$/;
