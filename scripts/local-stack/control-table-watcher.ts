import type { RawItem } from '../../functions/shared/control-item';
import type { ControlTable } from '../../functions/shared/control-table';

/** One item's change, as images (the stream's wire format: NEW_AND_OLD_IMAGES). */
export interface ItemChange {
  readonly pollerId: string;
  readonly before: RawItem | undefined;
  readonly after: RawItem | undefined;
}

/**
 * The local stand-in for a DynamoDB Stream on the control table: dynalite has no streams, so the table is scanned
 * and diffed. The first scan is the baseline and reports nothing.
 */
export class ControlTableWatcher {
  private snapshot = new Map<string, string>();
  private items = new Map<string, RawItem>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;

  constructor(
    private readonly table: ControlTable,
    private readonly onChange: (change: ItemChange) => void,
    private readonly onScanError: (error: unknown) => void,
    private readonly onScanOk: () => void = () => {},
    private readonly intervalMs = 250,
  ) {}

  async start(): Promise<void> {
    await this.scan(false);
    this.timer = setInterval(() => {
      this.scanning ??= this.scan(true)
        .then(this.onScanOk, this.onScanError)
        .finally(() => {
          this.scanning = undefined;
        });
    }, this.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.scanning;
  }

  private async scan(report: boolean): Promise<void> {
    const next = new Map<string, RawItem>();
    for (const { pollerId, image } of await this.table.scanImages()) next.set(pollerId, image);

    const nextSnapshot = new Map([...next].map(([id, item]) => [id, JSON.stringify(item)]));
    if (report) {
      for (const pollerId of new Set([...this.snapshot.keys(), ...nextSnapshot.keys()])) {
        if (this.snapshot.get(pollerId) !== nextSnapshot.get(pollerId)) {
          this.onChange({ pollerId, before: this.items.get(pollerId), after: next.get(pollerId) });
        }
      }
    }
    this.snapshot = nextSnapshot;
    this.items = next;
  }
}
