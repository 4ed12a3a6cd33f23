import type { AppConfig } from '../../../config/config';
import type { ItemHistory } from '../../../ports/item-history';
import type { Logger } from '../../../ports/logger';
import type { Counters, ItemQueries } from '../../../ports/state-store';
import type { ErrorQueueAccess } from '../../../ports/error-queue';

export type EntranceControl = 'entrance.opened' | 'entrance.closed';

export interface DashboardDeps {
  cfg: Pick<AppConfig, 'dashboard' | 'entrances' | 'publicBaseUrl' | 'topology'>;
  /** The dashboard only reads (entrance changes go to the contact center as control events). */
  store: ItemQueries & Counters;
  errorQueue: ErrorQueueAccess;
  /** Item histories, shown on the item page (also after the item's end). Absent: no History section. */
  history?: ItemHistory;
  /** Publishes a contact-center control event (confirmed, mandatory) the way `workitem entrance` does. */
  publishControl(routingKey: EntranceControl, body: { entrance: string; by: string }): Promise<'confirmed' | 'returned'>;
  /** Path + query of a signed, expiring link to an item's attachment (a page links it; /attachments checks it). */
  attachmentLink(contactId: string, fileName: string): string;
  log: Logger;
  now: () => number;
}
