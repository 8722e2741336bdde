import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { FIELD } from '../../functions/shared/contract';
import type { RawItem } from '../../functions/shared/control-item';

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
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
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
    let startKey: RawItem | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      for (const item of page.Items ?? []) {
        const pollerId = item[FIELD.id]?.S;
        if (pollerId !== undefined) next.set(pollerId, item);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);

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
