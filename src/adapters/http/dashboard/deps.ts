import type { OperatorActionResult } from '../../../application/operator-actions';
import type { AppConfig } from '../../../config/config';
import type { ItemHistory } from '../../../ports/item-history';
import type { Logger } from '../../../ports/logger';
import type { Counters, ItemQueries } from '../../../ports/state-store';
import type { ErrorQueueAccess } from '../../../ports/error-queue';

export type EntranceControl = 'entrance.opened' | 'entrance.closed';

/** What a signed-in operator may do to one item (contract 1.2 hold and resume; cancel), as the application does it. */
export interface ItemActions {
  hold(contactId: string, user: string, terms: { until?: string; reason?: string }): Promise<OperatorActionResult>;
  resume(contactId: string, user: string): Promise<OperatorActionResult>;
  cancel(contactId: string, user: string): Promise<OperatorActionResult>;
}

export interface DashboardDeps {
  cfg: Pick<AppConfig, 'dashboard' | 'entrances' | 'publicBaseUrl' | 'topology'>;
  /** The dashboard only reads (entrance changes go to the contact center as control events; item actions through itemActions). */
  store: ItemQueries & Counters;
  errorQueue: ErrorQueueAccess;
  /** Item histories, shown on the item page (also after the item's end). Absent: no History section. */
  history?: ItemHistory;
  /** Hold, resume and cancel of an item (signed in only). Absent: the item page offers none. */
  itemActions?: ItemActions;
  /** Publishes a contact-center control event (confirmed, mandatory) the way `workitem entrance` does. */
  publishControl(routingKey: EntranceControl, body: { entrance: string; by: string }): Promise<'confirmed' | 'returned'>;
  /** Path + query of a signed, expiring link to an item's attachment (a page links it; /attachments checks it). */
  attachmentLink(contactId: string, fileName: string): string;
  log: Logger;
  now: () => number;
}
