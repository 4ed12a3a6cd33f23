import type { ItemQueries, ItemState, StoredItem } from '../ports/state-store';

/** Store page size of a scan (bounded memory whatever the number of unfinished items). */
const SCAN_PAGE = 500;
/** A list request stops after this many scanned items (it then returns a cursor to go on from). */
const MAX_SCANNED = 50_000;

export interface ItemFilter {
  entrance?: string;
  state?: ItemState;
  taskType?: string;
}

export type ItemQuery = ItemFilter & { cursor: number; limit: number };

function matches(it: StoredItem, q: ItemFilter): boolean {
  return (
    (!q.entrance || it.record.entrance === q.entrance) &&
    (!q.state || it.state === q.state) &&
    (!q.taskType || it.record.taskType === q.taskType)
  );
}

/**
 * Unfinished items oldest first, filtered, paged by a `cursor` (the last seq seen): the query behind GET /api/items,
 * the dashboard's item list and `workitem items`.
 */
export async function listItems(store: ItemQueries, q: ItemQuery): Promise<{ items: StoredItem[]; nextCursor: number | null }> {
  const items: StoredItem[] = [];
  let after = q.cursor;
  for (let scanned = 0; items.length < q.limit && scanned < MAX_SCANNED;) {
    const page = await store.pageUnfinished(after, SCAN_PAGE);
    if (page.length === 0) return { items, nextCursor: null };
    scanned += page.length;
    for (const it of page) {
      after = it.seq;
      if (!matches(it, q)) continue;
      items.push(it);
      if (items.length >= q.limit) break;
    }
  }
  return { items, nextCursor: after };
}

/**
 * How many unfinished items the filter selects. Without a filter one ZCARD; with one a scan of every unfinished item
 * in pages (bounded memory, O(unfinished) time).
 */
export async function countItems(store: ItemQueries, q: ItemFilter): Promise<number> {
  if (!q.entrance && !q.state && !q.taskType) return store.countUnfinished();
  let n = 0;
  let after = 0;
  for (;;) {
    const page = await store.pageUnfinished(after, SCAN_PAGE);
    for (const it of page) {
      after = it.seq;
      if (matches(it, q)) n++;
    }
    if (page.length < SCAN_PAGE) return n;
  }
}
