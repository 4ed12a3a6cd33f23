import { FINAL_STEPS, type HistoryStep, type ItemHistory, type ItemHistoryView } from '../../src/ports/item-history';

/**
 * In-memory ItemHistory with the Redis adapter's rules: bounded (the first step and the latest ones kept, the rest
 * counted as dropped), repeats collapsed on request, `final` once an end step came.
 */
export class MemoryItemHistory implements ItemHistory {
  readonly items = new Map<string, { steps: HistoryStep[]; dropped: number; final: boolean }>();
  appends = 0;

  constructor(private readonly maxSteps = 200) {}

  async append(contactId: string, steps: HistoryStep[], opts: { collapse?: boolean } = {}): Promise<void> {
    this.appends++;
    const h = this.items.get(contactId) ?? { steps: [], dropped: 0, final: false };
    this.items.set(contactId, h);
    let todo = steps;
    const last = h.steps[h.steps.length - 1];
    if (opts.collapse && steps.length === 1 && last && last.step === steps[0].step && last.reason === steps[0].reason) {
      h.steps[h.steps.length - 1] = { ...steps[0], times: (last.times ?? 1) + 1, firstAt: last.firstAt ?? last.at };
      todo = [];
    }
    h.steps.push(...todo);
    if (h.steps.length > this.maxSteps) {
      const excess = h.steps.length - this.maxSteps;
      h.steps.splice(1, excess);
      h.dropped += excess;
    }
    if (steps.some((s) => FINAL_STEPS.has(s.step))) h.final = true;
  }

  async read(contactId: string): Promise<ItemHistoryView | null> {
    const h = this.items.get(contactId);
    if (!h) return null;
    return { contactId, steps: [...h.steps], dropped: h.dropped, keptUntil: h.final ? new Date(Date.now() + 1000).toISOString() : null };
  }

  /** The step names of an item, in order. */
  names(contactId: string): string[] {
    return (this.items.get(contactId)?.steps ?? []).map((s) => s.step);
  }
}
