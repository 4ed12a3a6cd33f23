import type { WorkItemError } from './error-codes';

export type ReceiptStatus = 'accepted' | 'buffered' | 'scheduled' | 'duplicate' | 'updated' | 'cancelled' | 'rejected';

/** What a sender is told about its message (rendered as `<workItemReceipt>` XML by the xml adapter). */
export interface ReceiptData {
  status: ReceiptStatus;
  externalId?: string;
  source?: string;
  contactId?: string;
  entrance?: string;
  receivedAt?: string;
  error?: WorkItemError;
}
