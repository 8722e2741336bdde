import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { KEY_ATTRIBUTE } from './contract';

/** The key of a poller's item. */
export function keyOf(pollerId: string): Record<string, AttributeValue> {
  return { [KEY_ATTRIBUTE]: { S: pollerId } };
}

/** Collects an UpdateExpression with placeholder names and values, so no attribute name clashes with a reserved word. */
export class UpdateBuilder {
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private readonly adds: string[] = [];
  private readonly names: Record<string, string> = {};
  private readonly values: Record<string, AttributeValue> = {};

  name(attribute: string): string {
    this.names[`#${attribute}`] = attribute;
    return `#${attribute}`;
  }

  value(placeholder: string, value: AttributeValue): string {
    this.values[`:${placeholder}`] = value;
    return `:${placeholder}`;
  }

  set(attribute: string, value: AttributeValue): void {
    this.sets.push(`${this.name(attribute)} = ${this.value(attribute, value)}`);
  }

  /** A SET clause built from `name` and `value` placeholders (e.g. with `if_not_exists`). */
  setExpression(clause: string): void {
    this.sets.push(clause);
  }

  remove(attribute: string): void {
    this.removes.push(this.name(attribute));
  }

  /** A REMOVE of a path built from `name` placeholders (a list element: `#list[0]`). */
  removePath(path: string): void {
    this.removes.push(path);
  }

  add(attribute: string, amount: number): void {
    this.adds.push(`${this.name(attribute)} ${this.value(`${attribute}Added`, { N: String(amount) })}`);
  }

  isEmpty(): boolean {
    return this.sets.length + this.removes.length + this.adds.length === 0;
  }

  build() {
    const clauses = [
      this.sets.length > 0 ? `SET ${this.sets.join(', ')}` : '',
      this.removes.length > 0 ? `REMOVE ${this.removes.join(', ')}` : '',
      this.adds.length > 0 ? `ADD ${this.adds.join(', ')}` : '',
    ].filter((clause) => clause !== '');
    return {
      UpdateExpression: clauses.join(' '),
      ExpressionAttributeNames: this.names,
      ...(Object.keys(this.values).length > 0 ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}
