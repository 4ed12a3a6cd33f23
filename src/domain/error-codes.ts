/** The one error catalog of the contract. Every rejection carries one of these codes. */
export const ERROR_CODES = [
  'MALFORMED_XML',
  'FORBIDDEN_XML',
  'TOO_LARGE',
  'TOO_DEEP',
  'UNKNOWN_ROOT',
  'MISSING_FIELD',
  'INVALID_FIELD',
  'NOT_A_WORKITEM',
  'UNKNOWN_ENTRANCE',
  'UNKNOWN_TASK_TYPE',
  'ATTACHMENT_REJECTED',
  'SOCIAL_NOT_CONFIGURED',
  'NOT_FOUND',
  'PARK_LIMIT',
  'EXPIRED',
  'SENDER_NOT_ALLOWED',
  'STALE_UPDATE',
  'NOT_HELD',
  'EXPIRED_IN_QUEUE',
  'DELIVERY_LIMIT',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** What a sender needs to fix a rejected message: code, human message, XML path of the problem. */
export interface WorkItemError {
  code: ErrorCode;
  message: string;
  /** XPath-like location, e.g. `/workItem/priority`; `/` when the whole document is at fault. */
  path: string;
}

export function workItemError(code: ErrorCode, message: string, path = '/'): WorkItemError {
  return { code, message, path };
}

/** Short explanation of each code, used by the README table and `workitem errors list`. */
export const ERROR_CODE_DESCRIPTIONS: Record<ErrorCode, string> = {
  MALFORMED_XML: 'The body is not well-formed UTF-8 XML.',
  FORBIDDEN_XML: 'DOCTYPE, entity declarations or processing instructions are not accepted.',
  TOO_LARGE: 'The message, a text or an attribute exceeds its size limit.',
  TOO_DEEP: 'Elements are nested deeper than allowed.',
  UNKNOWN_ROOT:
    'The root element is not <workItem>, <cancelWorkItem>, <updateWorkItem>, <getWorkItem>, <holdWorkItem> or <resumeWorkItem>, or its version is unsupported.',
  MISSING_FIELD: 'A required element or attribute is missing or empty.',
  INVALID_FIELD: 'An element or attribute has a value outside its allowed form, or is not part of the contract.',
  NOT_A_WORKITEM: 'The work-item task key is missing or empty in contactData.',
  UNKNOWN_ENTRANCE: 'The entrance is not configured.',
  UNKNOWN_TASK_TYPE:
    "The task type (the task key's value in contactData) is not configured, and the operators accept only configured task types (taskTypesStrict).",
  ATTACHMENT_REJECTED: 'The attachment is not valid base64, too large, of a type not allowed, or has a bad file name.',
  SOCIAL_NOT_CONFIGURED: 'The social platform/page of the item is not configured.',
  NOT_FOUND: 'The item to cancel, update, hold or resume is not known (never received, already ended, cancelled or expired).',
  PARK_LIMIT: 'The entrance is closed and already holds its maximum number of parked items.',
  EXPIRED: 'The item stayed parked longer than the entrance allows, or its <expiresAt> passed before it was finished.',
  SENDER_NOT_ALLOWED: "The routing key's source does not match the XML <source>.",
  STALE_UPDATE:
    "The update's revision is not greater than the last revision applied to the item: nothing changed. Send a higher revision, or none to apply in arrival order.",
  NOT_HELD: 'The item to resume is unfinished but not held (routed, parked or scheduled): nothing changed. Hold it first, or send nothing.',
  EXPIRED_IN_QUEUE:
    "The message's own expiration (the AMQP expiration property) ran out while it waited in the queue: the service never took it. Send it again, with a longer expiration or none.",
  DELIVERY_LIMIT:
    'The message was delivered as often as the queue allows (its delivery limit) without being settled: the service kept failing on it. An operator matter; the error-queue copy has the details.',
};
