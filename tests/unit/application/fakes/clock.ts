/** Time that moves only when a test says so; every fake and `Deps.now` read it. */
export class FakeClock {
  constructor(private ms = Date.parse('2026-12-01T10:00:00.000Z')) {}

  readonly now = (): number => this.ms;

  advance(ms: number): void {
    this.ms += ms;
  }

  iso(offsetMs = 0): string {
    return new Date(this.ms + offsetMs).toISOString();
  }
}
