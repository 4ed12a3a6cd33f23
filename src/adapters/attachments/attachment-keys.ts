import { CONTACT_ID_PATTERN } from '../../domain/work-item';

/**
 * The only name an attachment is stored under: its contactId, checked against the contactId pattern, so nothing a
 * sender writes (the file name stays in the Redis record) can become a path or key component.
 */
export function checkedContactId(contactId: string): string {
  if (!CONTACT_ID_PATTERN.test(contactId))
    throw new Error(`invalid contactId for an attachment: ${JSON.stringify(contactId.slice(0, 80))}`);
  return contactId;
}

export function isContactId(name: string): boolean {
  return CONTACT_ID_PATTERN.test(name);
}

/**
 * One deployment's corner of a shared directory or bucket, from REDIS_KEY_PREFIX (`workitem:` → `workitem`): the
 * orphan sweep of one deployment never sees another's attachments. Only [A-Za-z0-9_-]: never `.`, `..` or a separator.
 */
export function storeNamespace(redisKeyPrefix: string): string {
  return redisKeyPrefix.replace(/:+$/, '').replace(/[^A-Za-z0-9_-]/g, '_') || '_';
}
